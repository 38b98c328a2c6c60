/// The type byte of a frame (header byte 4). Raw values are part of the wire format: never renumber.
public enum MessageType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// See the `Message` case of the same name.
    case hello = 1, challenge, proof, welcome, register, heartbeat, assign, progress, checkpoint, result, failed,
         cancel, drain, goodbye, accepted
    /// Peer links between the members of a render group (see `PeerHello` and `PeerData`).
    case peerHello = 16, peerChallenge, peerProof, peerWelcome, peerData
    /// A group member other than rank 0 finished its part of a sharded job.
    case memberDone = 21
    /// A preview of the image forming (a small PNG of the latent; see `Message.preview`).
    case preview = 22

    /// Lower-case name used in logs and error descriptions.
    public var description: String {
        switch self {
        case .hello: return "hello"
        case .challenge: return "challenge"
        case .proof: return "proof"
        case .welcome: return "welcome"
        case .register: return "register"
        case .heartbeat: return "heartbeat"
        case .assign: return "assign"
        case .progress: return "progress"
        case .checkpoint: return "checkpoint"
        case .result: return "result"
        case .failed: return "failed"
        case .cancel: return "cancel"
        case .drain: return "drain"
        case .goodbye: return "goodbye"
        case .accepted: return "accepted"
        case .peerHello: return "peerHello"
        case .peerChallenge: return "peerChallenge"
        case .peerProof: return "peerProof"
        case .peerWelcome: return "peerWelcome"
        case .peerData: return "peerData"
        case .memberDone: return "memberDone"
        case .preview: return "preview"
        }
    }
}
