import ArgumentParser
import Foundation
import HiDiffCore
import HiDiffGroup
import HiDiffModels
import HiDiffPipeline

/// `hidiff bench shard`: one denoising step (a U-Net call and the gather of its output) split over K rank
/// processes linked by the group transport on loopback, for each K asked. Per rank: bytes sent by kind, CPU
/// seconds (one thread each, so they are what one core would take) and peak RSS. Then a modelled step time
/// on real links: the slowest rank's compute plus its bytes at 1 and 10 Gbit/s and a per-message latency.
struct ShardBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard", abstract: "Bytes, compute and memory per rank of a sharded step, for K ranks; one JSON line per K.")

    @OptionGroup var input: UNetBenchInput
    @Option(help: "Rank counts to measure, e.g. 1,2,4.")
    var workers: String = "1,2,4"
    @Option(help: "HiDiffusion: on or off.")
    var hidiffusion: String = "on"
    @Option(help: "Which U-Net call of a 50-step schedule to run (its HiDiffusion phase).")
    var call: Int = 0
    @Option(help: "Seconds of latency per message for the model.")
    var latency: Double = 0.0001

    func validate() throws {
        guard ["on", "off"].contains(hidiffusion) else { throw ValidationError("--hidiffusion is on or off") }
        try requireRange(call, 0...49, option: "--call")
        _ = try parsedWorkers()
    }

    func parsedWorkers() throws -> [Int] {
        let ks = workers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !ks.isEmpty, ks.allSatisfy({ (1...16).contains($0) }) else {
            throw ValidationError("--workers is a list of rank counts from 1 to 16, e.g. 1,2,4")
        }
        return ks
    }

    func run() throws {
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("hidiff-shard-\(getpid()).token").path
        try Data(token.utf8).write(to: URL(fileURLWithPath: tokenFile))
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        var single: Double?
        for k in try parsedWorkers() {
            let ports = (0..<k).map { _ in Self.freePort() }
            let peers = ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")
            let children = try (0..<k).map { rank -> (Process, Pipe) in
                let p = Process(), out = Pipe()
                p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
                p.arguments = ["bench", "shard-rank", "--model", input.model, "-W", "\(input.width)", "-H", "\(input.height)",
                               "--batch", "\(input.batch)", "--vae-factor", "\(input.vaeFactor)", "--rank", "\(rank)",
                               "--peers", peers, "--token-file", tokenFile, "--hidiffusion", hidiffusion, "--call", "\(call)"]
                var environment = ProcessInfo.processInfo.environment
                environment["HIDIFF_THREADS"] = "1"
                environment["OPENBLAS_NUM_THREADS"] = "1"
                if environment["HIDIFF_LOG_LEVEL"] == nil { environment["HIDIFF_LOG_LEVEL"] = "error" }
                p.environment = environment
                p.standardOutput = out
                try p.run()
                return (p, out)
            }
            var ranks: [[String: Any]] = []
            var failures: [String] = []
            for (rank, (p, out)) in children.enumerated() {
                let data = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                if p.terminationReason == .uncaughtSignal {
                    failures.append("rank \(rank) was killed by signal \(p.terminationStatus)")
                } else if p.terminationStatus != 0 {
                    failures.append("rank \(rank) exited with status \(p.terminationStatus)")
                } else if let line = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                    ranks.append(line)
                } else {
                    failures.append("rank \(rank) printed no result")
                }
            }
            guard failures.isEmpty else {
                throw ValidationError("K=\(k) failed: \(failures.joined(separator: "; ")) (see the ranks' stderr above)")
            }
            let compute = ranks.map { $0["cpu_s"] as? Double ?? 0 }.max() ?? 0
            let bytes = ranks.map { $0["bytes_sent_total"] as? Int ?? 0 }.max() ?? 0
            let messages = ranks.map { $0["messages_sent"] as? Int ?? 0 }.max() ?? 0
            if k == 1 { single = compute }
            var modelled: [String: Any] = [:]
            for gbit in [1.0, 10.0] {
                let t = compute + Double(bytes) * 8 / (gbit * 1e9) + Double(messages) * latency
                modelled["\(Int(gbit))gbit"] = ["step_s": t, "speedup": single.map { $0 / t } as Any]
            }
            print(try jsonLine([
                "bench": "shard", "model": input.model, "width": input.width, "height": input.height, "batch": input.batch,
                "hidiffusion": hidiffusion, "call": call, "workers": k, "ranks": ranks,
                "max_rank_cpu_s": compute, "max_rank_bytes_sent": bytes, "modelled": modelled,
                "note": "ranks share this machine's cores; cpu_s is each rank's own single-threaded compute",
            ]))
        }
    }

    /// A port nobody listens on now (bound to 0 and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// One rank of `hidiff bench shard` (started by it).
struct ShardRankBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "shard-rank", abstract: "One rank of `bench shard`.",
                                                    shouldDisplay: false)

    @OptionGroup var input: UNetBenchInput
    @Option var rank: Int
    @Option var peers: String
    @Option var tokenFile: String
    @Option var hidiffusion: String = "on"
    @Option var call: Int = 0

    func validate() throws {
        let count = peers.split(separator: ",").count
        guard (0..<count).contains(rank) else { throw ValidationError("--rank \(rank) is not one of the \(count) --peers") }
        try requireRange(call, 0...49, option: "--call")
    }

    func run() throws {
        LogSetup.bootstrap()
        let addresses = peers.split(separator: ",").map(String.init)
        let members = try addresses.map { text in
            do { return try PeerAddress(text) } catch { throw ValidationError("--peers: \(text) is not HOST:PORT") }
        }
        let unet = try ComponentLoader.unet(at: input.model)
        let family = ModelFamily.detect(unet: unet.config, name: input.model, trailingSpacing: false)
        let (h, w) = (input.height / input.vaeFactor, input.width / input.vaeFactor)
        var gen = TorchGenerator(seed: 0)
        let sample = gen.randn([input.batch, unet.config.inChannels, h, w])
        let context = gen.randn([input.batch, 77, unet.crossAttentionDim])
        let added = input.addedConditions(for: unet.config, generator: &gen)
        let hd = hidiffusion == "on"
            ? try HiDiffusion(family: family, nativeLatentSize: unet.config.sampleSize ?? 64, settings: HiDiffusionSettings(),
                              seed: 0, modelName: input.model)
            : nil
        let plan = try StripePlan(latentHeight: h, parts: addresses.count,
                                  unit: StripePlan.unit(levels: unet.config.blockOutChannels.count, hidiffusion: hd != nil))
        let listener = try PeerListener.bindBlocking(host: members[rank].host, port: members[rank].port)
        defer { listener.close() }
        let roster = try GroupRoster(groupID: 1, members: members, rank: rank)
        let group = try TCPCollective.joinBlocking(roster: roster, listener: listener,
                                                   token: Array(try String(contentsOfFile: tokenFile, encoding: .utf8).utf8))
        // Blocks this rank still passes on must leave before the process does.
        defer { group.closeAndWait() }
        let callContext = hd?.callContext(callIndex: call, callCount: 50, latentHeight: h, latentWidth: w, collective: group)
            ?? UNetCallContext(callIndex: call, callCount: 50, collective: group)
        // The step's own peak, apart from loading (which converts the weights and may peak higher).
        ProcessStats.resetPeakResident()
        let before = ProcessStats.residentBytes()
        let (t0, c0) = (ProcessStats.now(), ProcessStats.cpuSeconds())
        let eps = try unet(sample.stripe(rank, rows: plan.rows), timestep: 500, encoderHiddenStates: context, added: added,
                           context: callContext)
        _ = try group.allGather(eps, axis: 2, kind: .latent)
        let (wall, cpu) = (ProcessStats.now() - t0, ProcessStats.cpuSeconds() - c0)
        let traffic = group.traffic
        var sent: [String: Int] = [:]
        for (kind, bytes) in traffic.bytesSent { sent["\(kind)"] = bytes }
        print(try jsonLine([
            "rank": rank, "stripe_rows": plan.rows[rank], "wall_s": wall, "cpu_s": cpu, "bytes_sent": sent,
            "bytes_sent_total": traffic.totalBytesSent, "messages_sent": traffic.messagesSent.values.reduce(0, +),
            "peak_rss_bytes": ProcessStats.peakResidentBytes() ?? -1,
            "rss_before_step_bytes": before?.current ?? -1,
            "peak_rss_step_bytes": ProcessStats.residentBytes()?.peak ?? -1,
        ]))
    }
}
