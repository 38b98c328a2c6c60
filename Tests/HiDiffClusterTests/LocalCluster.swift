import Foundation
import HiDiffPostgres
import HiDiffStore
import HiDiffTestSupport
import Logging
import XCTest

/// A real cluster for one test: a fresh database on the test server, the `hidiff` binary as coordinator
/// and worker processes, the CLI as child processes. Everything stops in `stop()`.
final class LocalCluster: @unchecked Sendable {
    let database: TestDatabase
    let dir: String
    let tokenFile: String
    let binary: String
    private(set) var processes: [String: Process] = [:]
    private(set) var ports: [String: Int] = [:]

    /// The `hidiff` executable built next to this test bundle (or `$HIDIFF_BIN`).
    static func hidiffBinary() throws -> String {
        if let bin = ProcessInfo.processInfo.environment["HIDIFF_BIN"], !bin.isEmpty { return bin }
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [here, here.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("hidiff").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw TestDatabaseError(message: "no hidiff executable next to \(here.path); build it (swift build -c release) or set HIDIFF_BIN")
    }

    init(database: TestDatabase? = nil) throws {
        self.database = try database ?? TestDatabase()
        binary = try Self.hidiffBinary()
        dir = NSTemporaryDirectory() + "hidiff-cluster-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        tokenFile = dir + "/token"
        try Data((0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined().utf8)
            .write(to: URL(fileURLWithPath: tokenFile))
        let migrate = try cli(["migrate"])
        guard migrate.status == 0 else { throw TestDatabaseError(message: "migrate failed: \(migrate.err)") }
    }

    var url: String { database.url }

    func store() throws -> JobStore {
        JobStore(connection: try PostgresConnection(url: url, logger: Logger(label: "test"), reconnectTimeout: .seconds(30)))
    }

    /// Starts a process running `hidiff args` (with `environment` added to this one's), logging to
    /// dir/logs/name.log.
    @discardableResult
    func launch(_ name: String, _ args: [String], prefix: [String] = [], environment extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        if prefix.isEmpty {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = args
        } else {
            process.executableURL = URL(fileURLWithPath: prefix[0])
            process.arguments = Array(prefix.dropFirst()) + [binary] + args
        }
        var environment = ProcessInfo.processInfo.environment
        environment["HIDIFF_DB"] = url
        environment.merge(extra) { $1 }
        process.environment = environment
        FileManager.default.createFile(atPath: logPath(name), contents: nil)
        let log = FileHandle(forWritingAtPath: logPath(name))!
        process.standardOutput = log
        process.standardError = log
        try process.run()
        processes[name] = process
        return process
    }

    func logPath(_ name: String) -> String { "\(dir)/logs/\(name).log" }
    func log(_ name: String) -> String { (try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? "" }

    /// Starts a coordinator on a free loopback port (or `host`); returns its port.
    @discardableResult
    func startCoordinator(_ name: String, host: String = "127.0.0.1", lease: Double = 30, heartbeat: Double = 2,
                          checkpointEvery: Int = 2, extra: [String] = [], environment: [String: String] = [:]) throws -> Int {
        let port = LoopbackPort.unused()
        try launch(name, ["coordinator", "--listen", "\(host):\(port)", "--token-file", tokenFile, "--name", name,
                          "--lease-seconds", "\(lease)", "--heartbeat-seconds", "\(heartbeat)",
                          "--checkpoint-every", "\(checkpointEvery)"] + extra, environment: environment)
        ports[name] = port
        try waitUntil("coordinator \(name) listens", timeout: 30) { Self.canConnect(host: host, port: port) }
        return port
    }

    func startWorker(_ name: String, coordinators: [String], prefix: [String] = [], extra: [String] = [],
                     environment: [String: String] = [:]) throws {
        try launch(name, ["worker", "--coordinator", coordinators.joined(separator: ","), "--token-file", tokenFile,
                          "--name", name] + extra, prefix: prefix, environment: environment)
    }

    func endpoint(_ coordinator: String) -> String { "127.0.0.1:\(ports[coordinator]!)" }

    /// Waits until `count` workers are registered and not offline.
    func waitForWorkers(_ count: Int, timeout: Double = 60) throws {
        let store = try store()
        try waitUntil("\(count) workers registered", timeout: timeout) {
            (try? store.workers().filter { $0.state != "offline" }.count) ?? 0 >= count
        }
    }

    /// Runs the CLI to completion.
    func cli(_ args: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        environment["HIDIFF_DB"] = url
        environment.merge(extra) { $1 }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func signal(_ name: String, _ number: Int32) {
        if let p = processes[name], p.isRunning { kill(p.processIdentifier, number) }
    }

    /// Waits for every job to end; fails with the cluster's logs when they do not in time.
    func waitForJobs(_ ids: [Int64], timeout: Double) throws -> [JobRecord] {
        let store = try store()
        var records: [JobRecord] = []
        do {
            try waitUntil("\(ids.count) jobs finished", timeout: timeout) {
                records = (try? store.jobs(ids: ids)) ?? []
                return records.count == ids.count && records.allSatisfy { [.succeeded, .failed, .cancelled].contains($0.state) }
            }
        } catch {
            let states = Dictionary(grouping: records, by: \.state).mapValues(\.count)
            throw TestDatabaseError(message: "\(error); states: \(states)\n\(processes.keys.sorted().map { "--- \($0)\n\(log($0).suffix(3000))" }.joined(separator: "\n"))")
        }
        return records
    }

    func stop() {
        for (_, p) in processes where p.isRunning { p.terminate() }
        let deadline = Date().addingTimeInterval(10)
        for (_, p) in processes {
            while p.isRunning && Date() < deadline { usleep(50_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        for (_, p) in processes where p.isRunning { p.waitUntilExit() }
        try? database.drop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func canConnect(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds pass.
func waitUntil(_ what: String, timeout: Double, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(50_000)
    }
    throw TestDatabaseError(message: "timed out after \(timeout) s waiting for \(what)")
}
