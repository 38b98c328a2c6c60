import HiDiffCore

/// What a `TCPCollective` member has sent and received, by `CollectiveKind`: element bytes (4 per float32, 8 per
/// all-reduce value; frame headers and field bytes not included) and data messages. Blocks a member forwards
/// around the ring count as sent by it.
public struct CollectiveTraffic: Sendable, Equatable {
    /// Element bytes written to peers.
    public var bytesSent: [CollectiveKind: Int] = [:]
    /// Element bytes taken from peers.
    public var bytesReceived: [CollectiveKind: Int] = [:]
    /// Data messages (chunks) written to peers.
    public var messagesSent: [CollectiveKind: Int] = [:]
    /// Data messages taken from peers.
    public var messagesReceived: [CollectiveKind: Int] = [:]

    /// Nothing yet.
    public init() {}

    /// All kinds' sent bytes together.
    public var totalBytesSent: Int { bytesSent.values.reduce(0, +) }
    /// All kinds' received bytes together.
    public var totalBytesReceived: Int { bytesReceived.values.reduce(0, +) }

    mutating func sent(_ kind: CollectiveKind, bytes: Int, messages: Int) {
        bytesSent[kind, default: 0] += bytes
        messagesSent[kind, default: 0] += messages
    }

    mutating func received(_ kind: CollectiveKind, bytes: Int, messages: Int) {
        bytesReceived[kind, default: 0] += bytes
        messagesReceived[kind, default: 0] += messages
    }
}
