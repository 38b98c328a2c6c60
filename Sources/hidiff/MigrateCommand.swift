import ArgumentParser
import Foundation
import HiDiffStore

/// `hidiff migrate`: applies the schema migrations the binary carries.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the cluster's database migrations (safe to rerun).")

    @OptionGroup var database: DatabaseOptions
    @Flag(help: "List the migrations and when each was applied; change nothing.")
    var status = false
    @Flag(help: "JSON output: an array of {version, name, applied_at}.")
    var json = false

    func run() throws {
        let migrator = Migrator(connection: try database.connect())
        if status && json {
            let rows = try migrator.status().map { m, applied -> [String: Any] in
                ["version": m.version, "name": m.name,
                 "applied_at": applied.map { ISO8601DateFormatter().string(from: $0) } ?? NSNull()]
            }
            print(try TextTable.json(rows))
            return
        }
        if status {
            for (migration, applied) in try migrator.status() {
                let when = applied.map { ISO8601DateFormatter().string(from: $0) } ?? "pending"
                print(String(format: "%04d  %-28@  %@", migration.version, migration.name as NSString, when as NSString))
            }
            return
        }
        let applied = try migrator.apply()
        if applied.isEmpty { print("schema is up to date (\(Migrations.all.count) migrations)") }
        for m in applied { print(String(format: "applied %04d %@", m.version, m.name as NSString)) }
    }
}
