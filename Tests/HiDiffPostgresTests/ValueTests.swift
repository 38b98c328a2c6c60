import Foundation
import HiDiffPostgres
import XCTest

final class ValueTests: PostgresTestCase {
    func testByteaRoundTripsZerosAllValuesAndFiveMegabytes() throws {
        try connection.execute("CREATE TABLE blobs (id int PRIMARY KEY, data bytea)")
        var state = UInt64.random(in: 1...UInt64.max)
        var big = [UInt8](repeating: 0, count: 5 * 1024 * 1024)
        for i in stride(from: 0, to: big.count, by: 8) {   // xorshift64, 8 bytes at a time (zeros included)
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            for k in 0..<8 { big[i + k] = UInt8(truncatingIfNeeded: state >> (8 * UInt64(k))) }
        }
        for i in stride(from: 0, to: big.count, by: 4096) { big[i] = 0 }
        let samples: [[UInt8]] = [[], [0], [0, 0, 0, 0], Array(0...255), [92, 120, 48, 48], big]
        for (i, sample) in samples.enumerated() {
            try connection.execute("INSERT INTO blobs VALUES ($1, $2)", [.int(Int64(i)), .bytes(sample)])
            let row = try XCTUnwrap(try connection.query(
                "SELECT data, length(data) AS n FROM blobs WHERE id = $1", [.int(Int64(i))]).first)
            XCTAssertEqual(try row.int("n"), Int64(sample.count), "stored length of sample \(i)")
            XCTAssertEqual(try row.bytes("data"), sample, "sample \(i) (\(sample.count) bytes)")
        }
        // Parameter straight back without a table.
        XCTAssertEqual(try connection.query("SELECT $1::bytea AS b", [.bytes([0, 1, 0])]).first?.bytes("b"), [0, 1, 0])
    }

    func testNullsAndTypeMismatchErrors() throws {
        let row = try XCTUnwrap(try connection.query(
            "SELECT NULL::int AS n, 'x'::text AS s, 7 AS i, $1::text AS p, NULL::bytea AS b", [.null]).first)
        XCTAssertNil(try row.optionalInt("n"))
        XCTAssertNil(try row.optionalString("p"))
        XCTAssertNil(try row.optionalBytes("b"))
        XCTAssertEqual(row["n"], .null)
        XCTAssertThrowsError(try row.int("n")) { error in
            XCTAssertTrue("\(error)".contains("'n' is NULL"), "\(error)")
        }
        XCTAssertThrowsError(try row.int("s")) { error in
            XCTAssertTrue("\(error)".contains("'s' holds text, expected int"), "\(error)")
        }
        XCTAssertThrowsError(try row.string("i")) { error in
            XCTAssertTrue("\(error)".contains("'i' holds int, expected text"), "\(error)")
        }
        XCTAssertThrowsError(try row.bool("missing")) { error in
            XCTAssertTrue("\(error)".contains("no column 'missing'"), "\(error)")
        }
        XCTAssertThrowsError(try row.date("i"))
        XCTAssertThrowsError(try row.bytes("s"))
        XCTAssertThrowsError(try row.stringArray("s"))
        XCTAssertEqual(try row.int("i"), 7)
        XCTAssertEqual(try row.double("i"), 7)
    }

    func testTypedValuesRoundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_123.456789)
        let strings = ["plain", "with space", "comma,inside", "quote\"d", "back\\slash", "{brace}", "NULL", "", "ünï ✓"]
        let row = try XCTUnwrap(try connection.query("""
            SELECT $1::bigint AS big, $2::float8 AS d, $3::bool AS yes, $4::timestamptz AS at, $5::jsonb AS j,
                   $6::text[] AS list, '{}'::text[] AS empty, $7::text AS s, 12345678901234::numeric AS num,
                   1.25::numeric AS frac, 42::int2 AS small, now() AS server_now, '2024-02-29 12:00:00'::timestamp AS local
            """, [.int(Int64.min), .double(-0.1), .bool(true), .timestamp(date), .json(#"{"b": [1, 2], "a": "x"}"#),
                  .textArray(strings), .text("héllo")]).first)
        XCTAssertEqual(try row.int("big"), Int64.min)
        XCTAssertEqual(try row.double("d"), -0.1)
        XCTAssertEqual(try row.bool("yes"), true)
        XCTAssertEqual(try row.date("at").timeIntervalSince1970, date.timeIntervalSince1970, accuracy: 1e-6)
        XCTAssertEqual(try row.string("j"), #"{"a": "x", "b": [1, 2]}"#)
        XCTAssertEqual(try row.stringArray("list"), strings)
        XCTAssertEqual(try row.stringArray("empty"), [])
        XCTAssertEqual(try row.string("s"), "héllo")
        XCTAssertEqual(try row.int("num"), 12_345_678_901_234)
        XCTAssertEqual(try row.double("frac"), 1.25)
        XCTAssertEqual(try row.int("small"), 42)
        XCTAssertEqual(try row.date("server_now").timeIntervalSinceNow, 0, accuracy: 300)
        XCTAssertEqual(try row.date("local"), Date(timeIntervalSince1970: 1_709_208_000))
    }

    func testExecuteReturnsRowsAffected() throws {
        try connection.execute("CREATE TABLE t (n int)")
        XCTAssertEqual(try connection.execute("INSERT INTO t SELECT generate_series(1, $1::int)", [.int(5)]), 5)
        XCTAssertEqual(try connection.execute("UPDATE t SET n = n + 1 WHERE n > $1", [.int(2)]), 3)
        XCTAssertEqual(try connection.execute("DELETE FROM t"), 5)
    }
}
