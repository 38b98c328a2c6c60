import ArgumentParser
import Foundation
import HiDiffStore

/// `hidiff admin ...`: what the cluster is doing, and the levers an operator pulls.
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Workers, the queue, jobs; drain a worker, retry a job.",
        subcommands: [Workers.self, Queue.self, Jobs.self, Drain.self, Retry.self])

    struct Workers: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Workers: state, current job and step, step rate, heartbeat, models.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            let workers = try database.store().workers()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(workers), as: UTF8.self))
                return
            }
            // PEER (where group members reach it; "-": no --peer-listen) is last, so column positions stay.
            print(TextTable.render(["NAME", "ADDRESS", "STATE", "JOB", "STEP", "STEPS/S", "HEARTBEAT", "MODELS", "PEER"],
                                   workers.map { w in
                [w.name, w.address, w.state, w.currentJob.map { "\($0)" } ?? "-", w.step.map { "\($0)" } ?? "-",
                 w.stepsPerSecond.map { String(format: "%.2f", $0) } ?? "-",
                 TextTable.duration(Date().timeIntervalSince(w.lastHeartbeat)) + " ago",
                 w.models.joined(separator: ","), w.peerAddress ?? "-"]
            }))
        }
    }

    struct Queue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Jobs per state, oldest queued age, throughput, failures.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            let stats = try database.store().queueStats()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(stats), as: UTF8.self))
                return
            }
            let states = JobState.allCases.map { [$0.rawValue, "\(stats.countsByState[$0.rawValue] ?? 0)"] }
            print(TextTable.render(["STATE", "JOBS"], states))
            print("oldest queued: \(stats.oldestQueuedAge.map { TextTable.duration($0) } ?? "-")")
            print("finished in the last 1/5/15 min: \(stats.completedLast1m)/\(stats.completedLast5m)/\(stats.completedLast15m) jobs; failed in the last 15 min: \(stats.failedLast15m)")
        }
    }

    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The latest jobs, optionally in one state.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "queued, running, succeeded, failed or cancelled.") var state: String?
        @Option(help: "At most this many.") var limit: Int = 50
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if let state, JobState(rawValue: state) == nil {
                throw ValidationError("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try requireRange(limit, 1...10_000, option: "--limit")
        }

        func run() throws {
            let records = try database.store().jobs(state: state.flatMap(JobState.init(rawValue:)), limit: limit)
            print(json ? try TextTable.json(records.map(\.statusJSON)) : TextTable.jobs(records))
        }
    }

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a worker finish its job, take no new one, and leave.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The worker's name.") var worker: String

        func run() throws {
            let store = try database.store()
            guard try store.workerState(name: worker) != nil else {
                throw ValidationError("no worker named \(worker) (hidiff admin workers lists them)")
            }
            try store.drainWorker(name: worker)
            print("draining \(worker): it finishes its current job, then leaves")
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue a failed or cancelled job again.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The job id.") var job: Int64

        func run() throws {
            try database.store().retry(jobID: job)
            print("queued \(job) again")
        }
    }
}
