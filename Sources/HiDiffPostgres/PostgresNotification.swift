/// A NOTIFY delivered to a connection that LISTENs on `channel`.
public struct PostgresNotification: Sendable, Equatable {
    /// The channel name.
    public var channel: String
    /// The payload ('' when NOTIFY had none).
    public var payload: String

    /// Creates a notification value.
    public init(channel: String, payload: String) {
        self.channel = channel
        self.payload = payload
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
