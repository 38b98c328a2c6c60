import ArgumentParser
import Foundation
import HiDiffStore

/// `hidiff status`: where jobs are; `--follow` until they end.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show jobs: state, step k/N, worker, elapsed, ETA.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var selection: JobSelection
    @Flag(help: "Keep showing progress until every selected job has ended.")
    var follow = false
    @Flag(help: "Print a JSON array of {id, batch, state, step, steps, attempt, workers, error, request, ...}.")
    var json = false
    @Option(help: "Without job ids or --batch: how many of the latest jobs to show.")
    var limit: Int = 20

    func run() throws {
        let store = try database.store()
        var records = try select(store)
        guard follow else { return try show(records) }
        let listener = try database.connect()
        try listener.listen("hidiff_job_events")
        var last: [Int64: String] = [:]
        while true {
            for r in records {
                let line = "\(r.id)  \(r.state.rawValue)  step \(r.step)/\(r.steps)  attempt \(r.attempt)  \(r.workers.joined(separator: ",").nonEmpty ?? "-")  elapsed \(TextTable.duration(r.elapsed))  eta \(TextTable.duration(r.eta))"
                if last[r.id] != line {
                    last[r.id] = line
                    if json { print(try TextTable.json(r.statusJSON)) } else { print("job " + line) }
                }
            }
            fflush(stdout)
            if records.allSatisfy(\.isFinished) { break }
            _ = try listener.waitForNotification(timeout: .seconds(1))
            records = try select(store)
        }
        if !json { print(""); print(TextTable.jobs(records)) }
    }

    private func select(_ store: JobStore) throws -> [JobRecord] {
        selection.isEmpty ? try store.jobs(state: nil, limit: limit) : try selection.records(in: store)
    }

    private func show(_ records: [JobRecord]) throws {
        if json { print(try TextTable.json(records.map(\.statusJSON))) } else { print(TextTable.jobs(records)) }
    }
}

/// `hidiff wait`: blocks until the jobs end; exit 0 only if all succeeded.
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Wait until jobs end; exit 0 only if all succeeded.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var selection: JobSelection
    @Option(help: "Give up after this many seconds (exit 2).")
    var timeout: Double?
    @Flag(help: "Print the jobs' final status as a JSON array (as `status --json`).")
    var json = false

    func validate() throws {
        if selection.isEmpty { throw ValidationError("name the jobs to wait for (ids or --batch)") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let store = try database.store()
        let listener = try database.connect()
        try listener.listen("hidiff_job_events")
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            let records = try selection.records(in: store)
            if records.allSatisfy(\.isFinished) {
                if json { print(try TextTable.json(records.map(\.statusJSON))) }
                let bad = records.filter { $0.state != .succeeded }
                for r in bad { FileHandle.standardError.write(Data("job \(r.id) \(r.state.rawValue)\(r.error.map { ": \($0)" } ?? "")\n".utf8)) }
                if !bad.isEmpty { throw ExitCode(1) }
                return
            }
            if let deadline, Date() >= deadline {
                FileHandle.standardError.write(Data("timed out: \(records.filter { !$0.isFinished }.count) of \(records.count) jobs still unfinished\n".utf8))
                throw ExitCode(2)
            }
            _ = try listener.waitForNotification(timeout: .seconds(1))
        }
    }
}

/// `hidiff cancel`: queued jobs end now; running ones stop within a step.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel jobs.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var selection: JobSelection
    @Flag(help: "Print a JSON array of {id, cancelled, state}.")
    var json = false

    func validate() throws {
        if selection.isEmpty { throw ValidationError("name the jobs to cancel (ids or --batch)") }
    }

    func run() throws {
        let store = try database.store()
        let records = try selection.records(in: store)
        let affected = try store.cancel(jobIDs: records.map(\.id))
        if json {
            print(try TextTable.json(records.map { r -> [String: Any] in
                ["id": r.id, "cancelled": affected.contains(r.id), "state": r.state.rawValue]
            }))
            return
        }
        for r in records {
            print(affected.contains(r.id) ? "cancelled \(r.id)\(r.state == .running ? " (stops at its next step)" : "")"
                                          : "job \(r.id) already \(r.state.rawValue)")
        }
    }
}
