import Foundation

/// A fresh PostgreSQL database for one test, on the server named by `HIDIFF_TEST_PG` (an admin URL such as
/// `postgresql://hidiff@127.0.0.1:PORT/postgres`, printed by `ops/pg-throwaway start DIR`).
///
/// `init()` creates a database with a random name (`CREATE DATABASE`) and `url` points at it; `drop()`
/// removes it (`DROP DATABASE ... WITH (FORCE)`, so open connections do not block it). Without
/// `HIDIFF_TEST_PG` the initializer throws, so the test FAILS rather than skips.
///
/// This target cannot depend on HiDiffPostgres, so it talks to the server through the `psql` command
/// line (postgresql-client).
///
///     override func setUpWithError() throws { database = try TestDatabase() }
///     override func tearDownWithError() throws { try database?.drop() }
public final class TestDatabase {
    /// The environment variable holding the admin URL.
    public static let environmentKey = "HIDIFF_TEST_PG"

    /// The database name (`hidiff_test_<random hex>`).
    public let name: String
    /// A URL (or connection string) for the new database.
    public let url: String
    /// The admin URL it was created through.
    public let adminURL: String
    private var dropped = false

    /// Creates the database; throws `TestDatabaseError` when `HIDIFF_TEST_PG` is not set or psql fails.
    public convenience init(prefix: String = "hidiff_test") throws {
        try self.init(adminURL: try Self.requireAdminURL(), prefix: prefix)
    }

    /// Creates the database on the server at `adminURL` (a test's own server rather than the shared one).
    public init(adminURL: String, prefix: String = "hidiff_test") throws {
        self.adminURL = adminURL
        let random = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        name = "\(prefix)_\(random)"
        url = Self.url(adminURL, database: name)
        try Self.psql(adminURL, "CREATE DATABASE \"\(name)\"")
    }

    /// Drops the database, disconnecting whoever is still connected. Safe to call twice.
    public func drop() throws {
        guard !dropped else { return }
        try Self.psql(adminURL, "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        dropped = true
    }

    /// The admin URL from the environment, or an error explaining how to get one.
    public static func requireAdminURL() throws -> String {
        guard let value = ProcessInfo.processInfo.environment[environmentKey],
              !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw TestDatabaseError(message: "HIDIFF_TEST_PG is not set: run ops/test, or start ops/pg-throwaway and export its URL")
        }
        return value.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `admin` with its database replaced by `database` (URL or keyword form).
    public static func url(_ admin: String, database: String) -> String {
        guard let schemeEnd = admin.range(of: "://") else {
            return admin + " dbname=\(database)"   // keyword form: a later keyword wins
        }
        let rest = admin[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let query = rest[authorityEnd...].firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        return String(admin[..<schemeEnd.upperBound]) + authority + "/" + database + query
    }

    /// Runs one SQL command through psql against `url`; throws with psql's message (password redacted).
    public static func psql(_ url: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try psqlPath())
        process.arguments = ["-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "10"
        process.environment = environment
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errorData = errorPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw TestDatabaseError(message: "psql \(redacted(url)) -c '\(sql)' failed (exit \(process.terminationStatus)): "
                + redacted(message, password: password(in: url)))
        }
    }

    /// psql from PATH, else from /usr/lib/postgresql/*/bin.
    static func psqlPath() throws -> String {
        let fileManager = FileManager.default
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/psql"
            if fileManager.isExecutableFile(atPath: candidate) { return candidate }
        }
        let versions = (try? fileManager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: >) {
            let candidate = "/usr/lib/postgresql/\(version)/bin/psql"
            if fileManager.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestDatabaseError(message: "psql not found: install postgresql-client (apt-get install postgresql-client)")
    }

    /// The password of a URL's user info, if any.
    static func password(in url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return nil }
        let password = String(userInfo[userInfo.index(after: colon)...])
        return password.isEmpty ? nil : password
    }

    /// `text` without the password (of the URL user info).
    static func redacted(_ text: String, password: String? = nil) -> String {
        guard let secret = password ?? Self.password(in: text) else { return text }
        return text.replacingOccurrences(of: secret, with: "***")
    }
}

/// Why a `TestDatabase` could not be created or dropped.
public struct TestDatabaseError: Error, CustomStringConvertible, LocalizedError {
    /// What went wrong and what to do.
    public let message: String
    /// An error with this message.
    public init(message: String) {
        self.message = message
    }
    /// The message.
    public var description: String { message }
    /// The message (what XCTest prints for a thrown error).
    public var errorDescription: String? { message }
}
