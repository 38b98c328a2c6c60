import ArgumentParser
import Foundation
import HiDiffPostgres
import HiDiffStore
import Logging

/// `--db URL` or `$HIDIFF_DB`: the cluster's PostgreSQL (a libpq connection string or postgresql:// URL).
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL: a libpq connection string or postgresql:// URL (default: $HIDIFF_DB).")
    var db: String?

    func url() throws -> String {
        if let db, !db.isEmpty { return db }
        if let env = ProcessInfo.processInfo.environment["HIDIFF_DB"], !env.isEmpty { return env }
        throw ValidationError("no database given: pass --db URL or set HIDIFF_DB (ops/cluster up writes it to DIR/env)")
    }

    /// A connection for a command-line call (short reconnect window: a person is waiting).
    func connect() throws -> PostgresConnection {
        try PostgresConnection(url: try url(), logger: Logger(label: "hidiff.db"), reconnectTimeout: .seconds(10))
    }

    func store() throws -> JobStore { JobStore(connection: try connect()) }
}
