import Foundation

/// Test hosts on one machine: a bridge in this namespace and one network namespace per simulated host, each
/// joined to the bridge by a veth pair, on a private /24 that exists only inside this test. Needs root and
/// iproute2; everything is removed in `tearDown()`.
final class NetworkNamespaces {
    let tag = String(format: "%04x", UInt16.random(in: 0...0xffff))
    let subnet = Int.random(in: 20...250)
    private(set) var hosts: [String] = []
    private var bridgeUp = false

    var bridge: String { "hdbr\(tag)" }
    /// The bridge's address: where a server for the namespaced hosts listens.
    var gateway: String { "10.231.\(subnet).1" }

    /// Fails with what is missing unless this process can make namespaces.
    static func checkAvailable() throws {
        guard getuid() == 0 else { throw NamespaceError("network namespace tests need root (CI runs as root)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/usr/bin/ip") else {
            throw NamespaceError("the ip command is missing: apt-get install iproute2 (ops/install-deps does)")
        }
    }

    func setUp() throws {
        try ip(["link", "add", bridge, "type", "bridge"])
        bridgeUp = true
        try ip(["addr", "add", "\(gateway)/24", "dev", bridge])
        try ip(["link", "set", bridge, "up"])
    }

    /// Adds host number `n` (address 10.231.subnet.(n+1)); returns the namespace name.
    @discardableResult
    func addHost(_ n: Int) throws -> String {
        let ns = "hdns\(tag)-\(n)", outside = "hdh\(tag)\(n)", inside = "hdw\(tag)\(n)"
        try ip(["netns", "add", ns])
        hosts.append(ns)
        try ip(["link", "add", outside, "type", "veth", "peer", "name", inside])
        try ip(["link", "set", inside, "netns", ns])
        try ip(["link", "set", outside, "master", bridge])
        try ip(["link", "set", outside, "up"])
        try ip(["netns", "exec", ns, "ip", "addr", "add", "\(address(n))/24", "dev", inside])
        try ip(["netns", "exec", ns, "ip", "link", "set", inside, "up"])
        try ip(["netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        return ns
    }

    func address(_ n: Int) -> String { "10.231.\(subnet).\(n + 1)" }
    func namespace(_ n: Int) -> String { "hdns\(tag)-\(n)" }

    /// Cuts host `n` off the network without closing its sockets (a pulled cable: no FIN, no RST).
    func cut(_ n: Int) throws {
        try ip(["link", "set", "hdh\(tag)\(n)", "down"])
    }

    /// The command prefix that runs a program inside host `n`.
    func prefix(_ n: Int) -> [String] { [Self.ipPath, "netns", "exec", namespace(n)] }

    func tearDown() {
        for ns in hosts { try? ip(["netns", "del", ns]) }
        if bridgeUp { try? ip(["link", "del", bridge]) }
        hosts = []
        bridgeUp = false
    }

    static let ipPath = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"

    private func ip(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.ipPath)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NamespaceError("ip \(args.joined(separator: " ")) failed: \(String(decoding: data, as: UTF8.self))")
        }
    }
}

struct NamespaceError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
