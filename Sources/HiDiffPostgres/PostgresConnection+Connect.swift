import CLibPQ
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Establishing, checking and re-establishing the session. Everything here runs on the connection's queue.
extension PostgresConnection {
    /// Settings every session gets, so the text-format decoder can rely on them.
    static let sessionSetup = "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET extra_float_digits = 3; "
        + "SET bytea_output = 'hex'; SET client_encoding = 'UTF8'"

    /// One connection attempt, driven by PQconnectPoll so the error verbosity can be raised first (the
    /// SQLSTATE of a connection failure is only in the verbose message text).
    func establish(timeout: Double) throws -> OpaquePointer {
        guard let candidate = PQconnectStart(url) else {
            throw PostgresError(sqlState: "08001", message: "connect: out of memory", isConnectionLoss: true)
        }
        PQsetErrorVerbosity(candidate, PQERRORS_VERBOSE)
        if PQstatus(candidate) == CONNECTION_BAD {
            let error = connectError(candidate)
            PQfinish(candidate)
            throw error
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var status = PGRES_POLLING_WRITING
        while status != PGRES_POLLING_OK {
            if status == PGRES_POLLING_FAILED {
                let error = connectError(candidate)
                PQfinish(candidate)
                throw error
            }
            let remaining = (deadline - ContinuousClock.now).seconds
            let ready = remaining > 0
                && waitForSocket(PQsocket(candidate), reading: status == PGRES_POLLING_READING, timeout: remaining)
            if !ready {
                PQfinish(candidate)
                throw PostgresError(sqlState: "08001", message:
                    "connect to \(redactedURL): timed out after \(Int(timeout))s", isConnectionLoss: true)
            }
            status = PQconnectPoll(candidate)
        }
        PQsetErrorVerbosity(candidate, PQERRORS_DEFAULT)
        serverClosedSession = false
        installNoticeReceiver(candidate)
        if let result = PQexec(candidate, Self.sessionSetup) {
            let ok = PQresultStatus(result) == PGRES_COMMAND_OK
            let error = ok ? nil : resultError(result, candidate, operation: "session setup")
            PQclear(result)
            if let error {
                PQfinish(candidate)
                throw error
            }
        }
        return candidate
    }

    /// The error of a failed connection attempt: SQLSTATE parsed from the verbose text, password scrubbed.
    private func connectError(_ candidate: OpaquePointer) -> PostgresError {
        let raw = String(cString: PQerrorMessage(candidate))
        var lines: [String] = []
        for line in raw.split(separator: "\n") where !line.hasPrefix("LOCATION:") {
            lines.append(String(line))
        }
        var text = lines.joined(separator: " ").trimmingCharacters(in: .whitespaces)
        var sqlState: String?
        for severity in ["FATAL:  ", "ERROR:  ", "PANIC:  "] {
            guard let range = text.range(of: severity) else { continue }
            let rest = text[range.upperBound...]
            let code = rest.prefix(5)
            if code.count == 5, code.allSatisfy({ $0.isUppercase || $0.isNumber }),
               rest.dropFirst(5).hasPrefix(": ") {
                sqlState = String(code)
                text.removeSubrange(range.upperBound..<text.index(range.upperBound, offsetBy: 7))
            }
            break
        }
        let message = ConnectionString.scrub("connect to \(redactedURL): \(text)", url: url)
        let lost = sqlState == nil || PostgresError.isConnectionState(sqlState)
        return PostgresError(sqlState: sqlState ?? "08001", message: message, isConnectionLoss: lost)
    }

    /// Waits until `socket` is readable (or writable); false on timeout or error.
    func waitForSocket(_ socket: Int32, reading: Bool, timeout: Double) -> Bool {
        guard socket >= 0 else { return false }
        let events = Int16(reading ? POLLIN : POLLOUT)
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        let milliseconds = Int32(max(0, min(timeout * 1000, Double(Int32.max))).rounded(.up))
        while true {
            let result = poll(&descriptor, 1, milliseconds)
            if result < 0, errno == EINTR { continue }
            return result > 0
        }
    }

    /// A live session, reconnecting first when the current one is gone (never inside a transaction).
    func ensureConnected(_ operation: String) throws -> OpaquePointer {
        if closed {
            throw PostgresError(message: "\(operation): the connection was closed")
        }
        if let conn, isAlive(conn) { return conn }
        if transactionDepth > 0 {
            throw PostgresError(sqlState: "08006", message:
                "\(operation): the connection to \(redactedURL) was lost inside a transaction", isConnectionLoss: true)
        }
        return try reconnect(operation)
    }

    /// False when libpq marked the session bad or the server closed it while idle: a FATAL message (e.g.
    /// "terminating connection due to administrator command", parsed into `serverClosedSession` by the
    /// notice receiver) or EOF already waiting on the socket.
    private func isAlive(_ conn: OpaquePointer) -> Bool {
        guard PQstatus(conn) == CONNECTION_OK, !serverClosedSession else { return false }
        var checks = 0
        while checks < 4, waitForSocket(PQsocket(conn), reading: true, timeout: 0) {
            checks += 1
            if PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK { return false }
            _ = PQisBusy(conn)   // parses what arrived: notifications are queued, a FATAL reaches the receiver
            if serverClosedSession { return false }
        }
        return true
    }

    /// Routes server notices to the logger (instead of stderr) and notes a FATAL/PANIC, which the server
    /// sends to an idle session right before closing it.
    private func installNoticeReceiver(_ conn: OpaquePointer) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        PQsetNoticeReceiver(conn, { context, result in
            guard let context, let result else { return }
            Unmanaged<PostgresConnection>.fromOpaque(context).takeUnretainedValue().receiveNotice(result)
        }, context)
    }

    /// Called by libpq on the connection's queue, during a libpq call.
    private func receiveNotice(_ result: OpaquePointer) {
        let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))).map { String(cString: $0) } ?? ""
        let message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? ""
        let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let metadata: Logger.Metadata = ["url": .string(redactedURL), "sqlstate": .string(sqlState)]
        switch severity {
        case "FATAL", "PANIC":
            serverClosedSession = true
            logger.warning("server is closing the session: \(message)", metadata: metadata)
        case "WARNING":
            logger.warning("server warning: \(message)", metadata: metadata)
        default:
            logger.debug("server notice: \(message)", metadata: metadata)
        }
    }

    /// Drops the old session and connects again with capped exponential backoff (50 ms doubling to 2 s)
    /// for up to `reconnectTimeout`; re-LISTENs. Gives up at once on errors a retry cannot cure
    /// (authentication, unknown database).
    func reconnect(_ operation: String) throws -> OpaquePointer {
        if let conn { PQfinish(conn) }
        conn = nil
        let limit = reconnectTimeout.seconds
        let start = ContinuousClock.now
        var delay = 0.05
        var attempts = 0
        logger.warning("connection lost; reconnecting", metadata: ["url": .string(redactedURL),
                                                                 "operation": .string(operation)])
        while true {
            attempts += 1
            let elapsed = (ContinuousClock.now - start).seconds
            do {
                let fresh = try establish(timeout: max(1, min(10, limit - elapsed)))
                conn = fresh
                for channel in listening {
                    try execRaw(fresh, "LISTEN \(Self.quoteIdentifier(channel))", operation: "re-listen \(channel)")
                }
                logger.info("reconnected", metadata: ["url": .string(redactedURL), "attempts": "\(attempts)"])
                return fresh
            } catch let error as PostgresError {
                let elapsed = (ContinuousClock.now - start).seconds
                guard error.isConnectionLoss, elapsed + delay <= limit else {
                    if let conn { PQfinish(conn) }
                    conn = nil
                    throw PostgresError(sqlState: error.sqlState, message:
                        "\(operation): could not reconnect (\(attempts) attempts in \(String(format: "%.1f", elapsed))s): "
                        + error.message, isConnectionLoss: true, detail: error.detail, hint: error.hint)
                }
                logger.debug("reconnect attempt failed", metadata: ["error": .string(error.message)])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 2)
            }
        }
    }

    /// The notification wait loop (on the queue).
    func waitOnQueue(timeout: Double) throws -> PostgresNotification? {
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, timeout) * 1000))
        let conn = try ensureConnected("wait for notification")
        while true {
            if let notification = nextNotification(conn) { return notification }
            if serverClosedSession {
                _ = try reconnect("wait for notification")
                return nil
            }
            let remaining = (deadline - ContinuousClock.now).seconds
            if remaining <= 0 { return nil }
            _ = waitForSocket(PQsocket(conn), reading: true, timeout: remaining)
            if PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK {
                logger.warning("connection lost while waiting for notifications",
                               metadata: ["url": .string(redactedURL)])
                _ = try reconnect("wait for notification")
                return nil
            }
        }
    }

    /// A notification already read from the socket, if any.
    private func nextNotification(_ conn: OpaquePointer) -> PostgresNotification? {
        guard let notify = PQnotifies(conn) else { return nil }
        defer { PQfreemem(notify) }
        let channel = String(cString: notify.pointee.relname)
        let payload = notify.pointee.extra.map { String(cString: $0) } ?? ""
        return PostgresNotification(channel: channel, payload: payload)
    }
}
