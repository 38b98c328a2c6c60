import Foundation

/// How a job is shown to people and clients (`hidiff status`, the HTTP API).
extension JobRecord {
    /// True once the job is succeeded, failed or cancelled.
    public var isFinished: Bool { [.succeeded, .failed, .cancelled].contains(state) }

    /// Seconds since the current attempt started (or its whole run, once finished).
    public var elapsed: Double? {
        guard let startedAt else { return nil }
        return (finishedAt ?? Date()).timeIntervalSince(startedAt)
    }

    /// Seconds left at the current attempt's pace.
    public var eta: Double? {
        guard state == .running, let elapsed, step > 0 else { return nil }
        return elapsed / Double(step) * Double(steps - step)
    }

    /// The status JSON object: id, batch, state, step, steps, attempt, workers, error, request (as stored).
    public var statusJSON: [String: Any] {
        let request = (try? JSONSerialization.jsonObject(with: Data(requestJSON.utf8))) ?? requestJSON
        var object: [String: Any] = [
            "id": id, "batch": batch as Any? ?? NSNull(), "state": state.rawValue, "step": step, "steps": steps,
            "attempt": attempt, "max_attempts": maxAttempts, "priority": priority, "model": model,
            "workers": workers, "error": error as Any? ?? NSNull(), "request": request,
            "cancel_requested": cancelRequested,
        ]
        let iso = ISO8601DateFormatter()
        object["created_at"] = iso.string(from: createdAt)
        object["started_at"] = startedAt.map { iso.string(from: $0) } ?? NSNull()
        object["finished_at"] = finishedAt.map { iso.string(from: $0) } ?? NSNull()
        object["eta_seconds"] = eta ?? NSNull()
        return object
    }
}
