import ArgumentParser
import Foundation
import HiDiffStore

/// `hidiff result`: writes finished images (and latents) from the store.
struct ResultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result", abstract: "Write a finished job's PNG (or every image of a batch).")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The job id.")
    var job: Int64?
    @Option(name: [.short, .long], help: "The PNG to write.")
    var output: String?
    @Option(help: "Also write the final latent as safetensors (tensor `latents`, as generate writes it).")
    var saveLatents: String?
    @Option(help: "Every image of this batch ...")
    var batch: String?
    @Option(help: "... into this folder, as job-<id>.png.")
    var outDir: String?

    func validate() throws {
        switch (job, batch) {
        case (_?, nil):
            guard output != nil else { throw ValidationError("give -o FILE.png for the image") }
            guard outDir == nil else { throw ValidationError("--out-dir goes with --batch") }
            if let saveLatents, saveLatents == output { throw ValidationError("--save-latents and -o name the same file") }
        case (nil, _?):
            guard outDir != nil else { throw ValidationError("give --out-dir DIR for the batch's images") }
            guard output == nil, saveLatents == nil else { throw ValidationError("-o and --save-latents go with one job id") }
        default:
            throw ValidationError("give one job id (with -o) or --batch B (with --out-dir)")
        }
    }

    func run() throws {
        let store = try database.store()
        if let job {
            let result = try fetch(job, store)
            try CLIFiles.write(result.png, to: output!, what: "-o")
            if let saveLatents { try CLIFiles.write(result.latents, to: saveLatents, what: "--save-latents") }
            print("wrote \(output!)")
            return
        }
        let records = try store.jobs(batch: batch!)
        guard !records.isEmpty else { throw ValidationError("batch \(batch!) has no jobs (is the name right?)") }
        try FileManager.default.createDirectory(atPath: outDir!, withIntermediateDirectories: true)
        var missing: [String] = []
        for r in records {
            guard r.state == .succeeded, let result = try store.result(jobID: r.id) else {
                missing.append("\(r.id) (\(r.state.rawValue))")
                continue
            }
            let path = URL(fileURLWithPath: outDir!).appendingPathComponent("job-\(r.id).png").path
            try CLIFiles.write(result.png, to: path, what: "--out-dir")
            print("wrote \(path)")
        }
        if !missing.isEmpty {
            FileHandle.standardError.write(Data("no image yet for jobs \(missing.joined(separator: ", "))\n".utf8))
            throw ExitCode(1)
        }
    }

    private func fetch(_ id: Int64, _ store: JobStore) throws -> JobResult {
        guard let record = try store.jobs(ids: [id]).first else { throw ValidationError("no job with id \(id)") }
        guard record.state == .succeeded, let result = try store.result(jobID: id) else {
            throw ValidationError("job \(id) is \(record.state.rawValue)\(record.error.map { ": \($0)" } ?? ""); it has no image\(record.isFinished ? "" : " yet (hidiff wait \(id))")")
        }
        return result
    }
}
