/// One protocol message. W->C is worker to coordinator, C->W the reverse; D->A is a peer link's dialer to its
/// acceptor (two members of a render group), A->D the reverse.
///
/// Encode and decode with `FrameCodec`; the handshake order is enforced by `CoordinatorLink` and `WorkerLink`.
public enum Message: Sendable, Equatable {
    /// W->C, first message: the worker's protocol version, name and a fresh 32-byte nonce.
    case hello(version: UInt16, name: String, nonce: [UInt8])
    /// C->W: the coordinator's 32-byte nonce and its 32-byte proof over both nonces (see `TokenAuth.proof`).
    case challenge(nonce: [UInt8], proof: [UInt8])
    /// W->C: the worker's 32-byte proof over both nonces.
    case proof(proof: [UInt8])
    /// C->W: authentication done; the coordinator's name and the heartbeat interval both sides use.
    case welcome(coordinator: String, heartbeatSeconds: Double)
    /// W->C: the worker's description, sent once after welcome.
    case register(WorkerInfo)
    /// Both ways; the worker fills `state`, the coordinator sends nil.
    case heartbeat(state: WorkerLinkState?)
    /// C->W: run (or resume) a job.
    case assign(Assignment)
    /// W->C: the worker took the assignment.
    case accepted(jobID: Int64, attempt: Int32)
    /// W->C: a denoising step finished.
    case progress(jobID: Int64, attempt: Int32, step: Int32, steps: Int32)
    /// W->C: resumable state after `step`.
    case checkpoint(jobID: Int64, attempt: Int32, step: Int32, state: [UInt8])
    /// W->C: the finished image, its final latents and the generation metadata.
    case result(jobID: Int64, attempt: Int32, png: [UInt8], latents: WireTensor, metadataJSON: String)
    /// W->C: the job failed; `retryable` says whether another attempt may succeed.
    case failed(jobID: Int64, attempt: Int32, message: String, retryable: Bool)
    /// C->W: stop that attempt.
    case cancel(jobID: Int64, attempt: Int32)
    /// C->W: finish or checkpoint the current step and leave.
    case drain
    /// Both ways, just before a close (also an acceptor's refusal of a peer link).
    case goodbye(reason: String)
    /// D->A, first message of a peer link: the group, both ranks and the dialer's nonce.
    case peerHello(PeerHello)
    /// A->D: the acceptor's 32-byte nonce and its proof (`PeerHello.proof`, role `PeerHello.acceptorRole`).
    case peerChallenge(nonce: [UInt8], proof: [UInt8])
    /// D->A: the dialer's proof (role `PeerHello.dialerRole`).
    case peerProof(proof: [UInt8])
    /// A->D: the link is attached to the acceptor's group; data may flow both ways.
    case peerWelcome
    /// Both ways on an established peer link: one chunk of a collective call's data.
    case peerData(PeerData)
    /// W->C: a group member other than rank 0 finished its part of a sharded job (`error` nil) or failed.
    case memberDone(jobID: Int64, attempt: Int32, error: String?)
    /// W->C: a preview of the image after `step` of `steps`: a PNG of the latent mapped to RGB (at latent
    /// resolution, at most `Message.maxPreviewBytes`). Sent only by workers started with `--preview-every`,
    /// because a coordinator older than this message closes a link that carries it.
    case preview(jobID: Int64, attempt: Int32, step: Int32, steps: Int32, png: [UInt8])

    /// The largest PNG a preview may carry.
    public static let maxPreviewBytes = 256 * 1024

    /// The frame type this message travels as.
    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .challenge: return .challenge
        case .proof: return .proof
        case .welcome: return .welcome
        case .register: return .register
        case .heartbeat: return .heartbeat
        case .assign: return .assign
        case .accepted: return .accepted
        case .progress: return .progress
        case .checkpoint: return .checkpoint
        case .result: return .result
        case .failed: return .failed
        case .cancel: return .cancel
        case .drain: return .drain
        case .goodbye: return .goodbye
        case .peerHello: return .peerHello
        case .peerChallenge: return .peerChallenge
        case .peerProof: return .peerProof
        case .peerWelcome: return .peerWelcome
        case .peerData: return .peerData
        case .memberDone: return .memberDone
        case .preview: return .preview
        }
    }
}
