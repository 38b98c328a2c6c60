/// One schema migration: `migrations/NNNN_name.sql`, embedded in the binary.
public struct Migration: Sendable, Equatable {
    /// NNNN from the file name.
    public let version: Int
    /// The name part of the file name (`cluster` for 0001_cluster.sql).
    public let name: String
    /// The SQL, byte for byte as in the file. Must not contain BEGIN/COMMIT (the migrator wraps it).
    public let sql: String

    /// Creates a migration value.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// `0001_cluster.sql`.
    public var fileName: String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "_\(name).sql"
    }
}

/// The migrations this binary carries (generated into EmbeddedMigrations.swift by ops/embed-migrations).
public enum Migrations {
    /// All migrations in version order.
    public static let all: [Migration] = embedded.sorted { $0.version < $1.version }
}
