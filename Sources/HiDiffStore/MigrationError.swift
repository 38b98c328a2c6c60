import HiDiffPostgres

/// A migration that failed to apply; its transaction was rolled back.
public struct MigrationError: Error, CustomStringConvertible, Sendable {
    /// The migration that failed.
    public let migration: Migration
    /// The database error.
    public let underlying: PostgresError

    /// Creates the error.
    public init(migration: Migration, underlying: PostgresError) {
        self.migration = migration
        self.underlying = underlying
    }

    /// What failed.
    public var description: String {
        "migration \(migration.fileName) failed and was rolled back: \(underlying)"
    }
}
