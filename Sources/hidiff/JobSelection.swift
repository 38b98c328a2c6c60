import ArgumentParser
import Foundation
import HiDiffStore

/// `JOB...` or `--batch B`: which jobs a command is about.
struct JobSelection: ParsableArguments {
    @Argument(help: "Job ids.")
    var jobs: [Int64] = []
    @Option(help: "All jobs of this batch.")
    var batch: String?

    func validate() throws {
        if !jobs.isEmpty && batch != nil { throw ValidationError("give job ids or --batch, not both") }
    }

    var isEmpty: Bool { jobs.isEmpty && batch == nil }

    /// The selected jobs; an id or batch that does not exist is an error that names it.
    func records(in store: JobStore) throws -> [JobRecord] {
        if let batch {
            let records = try store.jobs(batch: batch)
            guard !records.isEmpty else { throw ValidationError("batch \(batch) has no jobs (is the name right?)") }
            return records
        }
        let records = try store.jobs(ids: jobs)
        let missing = Set(jobs).subtracting(records.map(\.id))
        guard missing.isEmpty else {
            throw ValidationError("no job with id \(missing.sorted().map(String.init).joined(separator: ", "))")
        }
        return records
    }
}

/// Text tables for people.
enum TextTable {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite else { return "-" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }

    static func json(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    static func jobs(_ records: [JobRecord]) -> String {
        render(["ID", "BATCH", "STATE", "STEP", "ATTEMPT", "WORKER", "ELAPSED", "ETA", "PROMPT"], records.map { r in
            let prompt = (try? JSONSerialization.jsonObject(with: Data(r.requestJSON.utf8)) as? [String: Any])?["prompt"] as? String ?? ""
            return ["\(r.id)", r.batch ?? "-", r.state.rawValue + (r.cancelRequested && !r.isFinished ? " (cancelling)" : ""),
                    "\(r.step)/\(r.steps)", "\(r.attempt)/\(r.maxAttempts)", r.workers.joined(separator: ",").nonEmpty ?? "-",
                    duration(r.elapsed), duration(r.eta), String(prompt.prefix(40))]
        })
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
