import Foundation
import HiDiffPostgres
import HiDiffStore
import HiDiffTestSupport
import XCTest

final class MigrationsTests: XCTestCase {
    var database: TestDatabase!
    var connection: PostgresConnection!

    override func setUpWithError() throws {
        try super.setUpWithError()
        database = try TestDatabase()
        connection = try PostgresConnection(url: database.url)
    }

    override func tearDownWithError() throws {
        connection?.close()
        try database?.drop()
        try super.tearDownWithError()
    }

    func testEmbeddedMatchesFilesOnDisk() throws {
        let folder = Fixtures.packageRoot.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        XCTAssertFalse(files.isEmpty)
        XCTAssertEqual(Migrations.all.map(\.fileName), files,
                       "migrations/ and EmbeddedMigrations.swift differ: run ops/embed-migrations")
        for migration in Migrations.all {
            let text = try String(contentsOf: folder.appendingPathComponent(migration.fileName), encoding: .utf8)
            XCTAssertEqual(migration.sql, text, "\(migration.fileName) changed: run ops/embed-migrations")
        }
        XCTAssertEqual(Migrations.all.map(\.version), Migrations.all.map(\.version).sorted())
        XCTAssertEqual(Migrations.all.first?.version, 1)
    }

    func testApplyRerunAndStatus() throws {
        let migrator = Migrator(connection: connection)
        XCTAssertTrue(try migrator.status().allSatisfy { $0.appliedAt == nil }, "nothing applied on a fresh database")
        let applied = try migrator.apply()
        XCTAssertEqual(applied.map(\.version), Migrations.all.map(\.version))
        XCTAssertEqual(try migrator.apply().count, 0, "a rerun applies nothing")
        let status = try migrator.status()
        XCTAssertEqual(status.map(\.migration.version), Migrations.all.map(\.version))
        XCTAssertTrue(status.allSatisfy { $0.appliedAt != nil })
        let recorded = try connection.query("SELECT version, name FROM schema_migrations ORDER BY version")
        XCTAssertEqual(try recorded.map { try $0.string("name") }, Migrations.all.map(\.name))
        let tables = try connection.query("""
            SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name
            """).map { try $0.string("t") }
        for table in ["batches", "checkpoints", "job_events", "jobs", "results", "schema_migrations", "workers"] {
            XCTAssertTrue(tables.contains(table), "missing table \(table): \(tables)")
        }
    }

    func testFailingMigrationRollsBackAndLaterRerunContinues() throws {
        let good = Migration(version: 1, name: "good", sql: "CREATE TABLE a (n int);")
        let bad = Migration(version: 2, name: "bad", sql: "CREATE TABLE b (n int); SELECT no_such_function();")
        XCTAssertThrowsError(try Migrator(connection: connection, migrations: [good, bad]).apply()) { error in
            guard let error = error as? MigrationError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.migration.version, 2)
            XCTAssertEqual(error.underlying.sqlState, "42883")
            XCTAssertTrue(error.description.contains("0002_bad.sql"), error.description)
        }
        let status = try Migrator(connection: connection, migrations: [good, bad]).status()
        XCTAssertNotNil(status[0].appliedAt)
        XCTAssertNil(status[1].appliedAt)
        XCTAssertEqual(try connection.query("SELECT to_regclass('b') IS NULL AS gone").first?.bool("gone"), true,
                       "the failed migration's table was rolled back")
        let fixed = Migration(version: 2, name: "bad", sql: "CREATE TABLE b (n int);")
        XCTAssertEqual(try Migrator(connection: connection, migrations: [good, fixed]).apply().map(\.version), [2])
    }

    func testConcurrentMigratorsDoNotRace() throws {
        let url = try XCTUnwrap(database?.url)
        let outcomes = LockedBox<[String]>([])
        let applied = LockedBox<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                let connection = try PostgresConnection(url: url)
                defer { connection.close() }
                let done = try Migrator(connection: connection).apply()
                applied.withValue { $0 += done.count }
                outcomes.withValue { $0.append("ok") }
            } catch {
                outcomes.withValue { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(outcomes.current, ["ok", "ok", "ok", "ok"])
        XCTAssertEqual(applied.current, Migrations.all.count, "each migration applied exactly once")
    }

    func testJobEventsAreAppendOnly() throws {
        try Migrator(connection: connection).apply()
        let clock = ManualClock()
        let store = JobStore(connection: connection, clock: clock)
        let id = try XCTUnwrap(try store.submit([NewJob(model: "m", requestJSON: "{}", steps: 1)], batch: nil).first)
        XCTAssertThrowsError(try connection.execute("UPDATE job_events SET kind = 'claimed' WHERE job_id = $1", [.int(id)])) {
            XCTAssertTrue("\($0)".contains("append-only"), "\($0)")
        }
        XCTAssertThrowsError(try connection.execute("DELETE FROM job_events"))
        XCTAssertThrowsError(try connection.execute("TRUNCATE job_events CASCADE"))
        XCTAssertEqual(try store.events(jobID: id).map(\.kind), ["submitted"])
    }
}
