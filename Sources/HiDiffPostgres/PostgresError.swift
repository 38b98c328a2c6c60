/// An error from PostgreSQL or libpq, or from decoding a row.
///
/// `message` says what failed (the operation or a shortened query text) and the server's primary message;
/// it never contains a password. `sqlState` is the five-character SQLSTATE when the server sent one
/// (`"23514"` check violation, `"40001"` serialization failure, ...). Connection-level failures that came
/// from libpq rather than the server get a class-08 code: `"08001"` when a connection could not be
/// established, `"08006"` when it broke during an operation.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// The SQLSTATE, e.g. "40001", "23505", "08006"; nil for decoding errors and client-side misuse.
    public var sqlState: String?
    /// What failed and why, without any password.
    public var message: String
    /// A connection-level failure: the connection was (or could not be) established or went away.
    /// The caller may retry the whole operation; the connection reconnects on its next use.
    public var isConnectionLoss: Bool
    /// The server's DETAIL field, if any.
    public var detail: String?
    /// The server's HINT field, if any.
    public var hint: String?
    /// The name of the violated constraint (for class 23 errors), if the server named one.
    public var constraint: String?

    /// Creates an error; `message` must already be free of passwords.
    public init(sqlState: String? = nil, message: String, isConnectionLoss: Bool = false,
                detail: String? = nil, hint: String? = nil, constraint: String? = nil) {
        self.sqlState = sqlState
        self.message = message
        self.isConnectionLoss = isConnectionLoss
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
    }

    /// `PostgresError [SQLSTATE]: message (detail) (hint)`.
    public var description: String {
        var text = "PostgresError"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail, !detail.isEmpty { text += " — \(detail)" }
        if let hint, !hint.isEmpty { text += " (hint: \(hint))" }
        return text
    }

    /// True for a unique violation (23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// True for errors a transaction retry may cure: serialization failure (40001) or deadlock (40P01).
    public var isTransient: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// SQLSTATEs that mean the server session is gone (class 08, admin/crash shutdown, cannot connect now).
    static func isConnectionState(_ state: String?) -> Bool {
        guard let state else { return false }
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }

    /// A decoding error (no SQLSTATE).
    static func decoding(_ message: String) -> PostgresError {
        PostgresError(message: message)
    }
}
