import Foundation
import HiDiffPostgres

/// Applies migrations in version order, each in its own transaction, recording them in schema_migrations.
/// Safe to rerun (applied versions are skipped) and to run from several processes at once: every step
/// holds a transaction-scoped advisory lock.
public struct Migrator: Sendable {
    /// The advisory lock key ("hidifmig").
    static let lockKey: Int64 = 0x6869_6469_666D_6967

    private let connection: PostgresConnection
    private let migrations: [Migration]

    /// A migrator for the embedded migrations.
    public init(connection: PostgresConnection) {
        self.init(connection: connection, migrations: Migrations.all)
    }

    /// A migrator for a given list (tests).
    public init(connection: PostgresConnection, migrations: [Migration]) {
        self.connection = connection
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies the pending migrations and returns them (empty when the schema is current).
    /// Throws `MigrationError` for a migration that fails (it is rolled back; earlier ones stay applied).
    @discardableResult
    public func apply() throws -> [Migration] {
        try connection.transaction { c in
            try c.execute("SELECT pg_advisory_xact_lock($1)", [.int(Self.lockKey)])
            try c.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version     integer PRIMARY KEY,
                    name        text NOT NULL,
                    applied_at  timestamptz NOT NULL
                )
                """)
        }
        var applied: [Migration] = []
        for migration in migrations {
            let didApply = try connection.transaction { c -> Bool in
                try c.execute("SELECT pg_advisory_xact_lock($1)", [.int(Self.lockKey)])
                let existing = try c.query("SELECT 1 FROM schema_migrations WHERE version = $1",
                                           [.int(Int64(migration.version))])
                if !existing.isEmpty { return false }
                do {
                    try c.executeScript(migration.sql)
                } catch let error as PostgresError {
                    throw MigrationError(migration: migration, underlying: error)
                }
                try c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, clock_timestamp())",
                              [.int(Int64(migration.version)), .text(migration.name)])
                return true
            }
            if didApply { applied.append(migration) }
        }
        return applied
    }

    /// Every known migration with the time it was applied (nil when pending).
    public func status() throws -> [(migration: Migration, appliedAt: Date?)] {
        let present = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        var appliedAt: [Int64: Date] = [:]
        if try present.first?.bool("present") == true {
            for row in try connection.query("SELECT version, applied_at FROM schema_migrations") {
                appliedAt[try row.int("version")] = try row.date("applied_at")
            }
        }
        return migrations.map { ($0, appliedAt[Int64($0.version)]) }
    }
}
