import Foundation

/// A throwaway CA and certificates made at test time by `ops/tls-certs` (openssl) in a temporary folder:
/// nothing with a key is committed. Each certificate is valid for 127.0.0.1, ::1 and localhost.
public struct TestCertificates: Sendable {
    /// The folder holding ca.pem, ca.key and NAME.pem / NAME.key for each name.
    public let dir: String

    /// Makes a new CA and one certificate per name; `san` adds subjectAltName entries (e.g. "IP:10.0.0.2").
    public init(names: [String], san: [String] = []) throws {
        dir = NSTemporaryDirectory() + "hidiff-tls-\(UUID().uuidString.prefix(8))"
        try Self.run(dir: dir, names: names, san: san)
    }

    /// Adds certificates signed by this CA; `onlySAN`: for the `san` names only (not 127.0.0.1 and localhost).
    public func add(_ names: [String], san: [String] = [], onlySAN: Bool = false) throws {
        try Self.run(dir: dir, names: names, san: san, only: onlySAN)
    }

    public var ca: String { "\(dir)/ca.pem" }
    public func certificate(_ name: String) -> String { "\(dir)/\(name).pem" }
    public func key(_ name: String) -> String { "\(dir)/\(name).key" }

    /// `--tls-cert`, `--tls-key` and `--tls-ca` for `name`.
    public func flags(_ name: String) -> [String] {
        ["--tls-cert", certificate(name), "--tls-key", key(name), "--tls-ca", ca]
    }

    public func remove() { try? FileManager.default.removeItem(atPath: dir) }

    private static func run(dir: String, names: [String], san: [String], only: Bool = false) throws {
        let process = Process()
        process.executableURL = Fixtures.packageRoot.appendingPathComponent("ops/tls-certs")
        process.arguments = [dir] + (san.isEmpty ? [] : [only ? "--san-only" : "--san", san.joined(separator: ",")]) + names
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestCertificatesError(message: "ops/tls-certs failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}

public struct TestCertificatesError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
