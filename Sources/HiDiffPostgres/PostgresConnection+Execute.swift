import CLibPQ
import Foundation

/// Running statements and turning results into rows or errors. Everything here runs on the queue.
extension PostgresConnection {
    /// PQexecParams with text-format results; parameters as `EncodedParameter` describes.
    func runQuery(_ sql: String, _ params: [PostgresValue]) throws -> (rows: [PostgresRow], affected: Int) {
        let operation = "query `\(Self.summary(sql))`"
        let encoded = params.map(EncodedParameter.init)
        // One buffer for all parameter bytes; text-format values get a terminating NUL.
        var storage: [UInt8] = []
        var offsets: [Int] = []
        for (i, parameter) in encoded.enumerated() {
            offsets.append(storage.count)
            guard let bytes = parameter.bytes else { continue }
            if parameter.format == 0, bytes.contains(0) {
                throw PostgresError(sqlState: "22021", message: "\(operation): parameter $\(i + 1) contains a NUL byte")
            }
            storage.append(contentsOf: bytes)
            if parameter.format == 0 { storage.append(0) }
        }
        storage.append(0)   // never an empty buffer, so no value pointer is nil by accident
        let types = encoded.map { $0.oid }
        let lengths = encoded.map { Int32(clamping: $0.bytes?.count ?? 0) }
        let formats = encoded.map { $0.format }
        let conn = try ensureConnected(operation)
        let result: OpaquePointer? = storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let values: [UnsafePointer<CChar>?] = encoded.indices.map { i in
                encoded[i].bytes == nil ? nil : base + offsets[i]
            }
            return PQexecParams(conn, sql, Int32(encoded.count), types, values, lengths, formats, 0)
        }
        guard let result else { throw connectionError(conn, operation: operation) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY else {
            throw resultError(result, conn, operation: operation)
        }
        return (rows(of: result), Int(String(cString: PQcmdTuples(result))) ?? 0)
    }

    /// Runs a parameterless script on the current session (reconnecting first if allowed); returns the
    /// command tag of its last statement.
    @discardableResult
    func runScript(_ sql: String, operation: String) throws -> String {
        let conn = try ensureConnected(operation)
        return try execRaw(conn, sql, operation: operation)
    }

    /// PQexec on a given session.
    @discardableResult
    func execRaw(_ conn: OpaquePointer, _ sql: String, operation: String) throws -> String {
        guard let result = PQexec(conn, sql) else { throw connectionError(conn, operation: operation) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK || status == PGRES_EMPTY_QUERY else {
            throw resultError(result, conn, operation: operation)
        }
        return String(cString: PQcmdStatus(result))
    }

    /// Decodes every row of a result.
    private func rows(of result: OpaquePointer) -> [PostgresRow] {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        guard rowCount > 0 else { return [] }
        let names = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let types = (0..<columnCount).map { PQftype(result, Int32($0)) }
        let index = ColumnIndex(names: names)
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<Int32(rowCount) {
            var values: [PostgresValue] = []
            values.reserveCapacity(columnCount)
            for c in 0..<Int32(columnCount) {
                if PQgetisnull(result, r, c) != 0 {
                    values.append(.null)
                } else {
                    values.append(ValueDecoder.decode(oid: types[Int(c)], pointer: PQgetvalue(result, r, c),
                                                      length: Int(PQgetlength(result, r, c))))
                }
            }
            rows.append(PostgresRow(index: index, values: values))
        }
        return rows
    }

    /// The error of a failed statement: SQLSTATE, primary message, detail, hint, constraint.
    func resultError(_ result: OpaquePointer, _ conn: OpaquePointer, operation: String) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        let lost = PQstatus(conn) == CONNECTION_BAD
        var sqlState = field(Int32(UInt8(ascii: "C")))
        let primary = field(Int32(UInt8(ascii: "M")))
            ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        if lost, sqlState == nil { sqlState = "08006" }
        let message = ConnectionString.scrub("\(operation) failed: \(primary)", url: url)
        return PostgresError(sqlState: sqlState, message: message,
                             isConnectionLoss: lost || PostgresError.isConnectionState(sqlState),
                             detail: field(Int32(UInt8(ascii: "D"))).map { ConnectionString.scrub($0, url: url) },
                             hint: field(Int32(UInt8(ascii: "H"))),
                             constraint: field(Int32(UInt8(ascii: "n"))))
    }

    /// The error when libpq returned no result at all (out of memory or a broken connection).
    private func connectionError(_ conn: OpaquePointer, operation: String) -> PostgresError {
        let text = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
        let lost = PQstatus(conn) == CONNECTION_BAD
        return PostgresError(sqlState: lost ? "08006" : nil,
                             message: ConnectionString.scrub("\(operation) failed: \(text)", url: url),
                             isConnectionLoss: lost)
    }
}
