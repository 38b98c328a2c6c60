import HiDiffCore
import NIOCore

/// Payload layouts, one per message type. The frame header is `FrameCodec`'s business; these functions only
/// write and read the bytes after it. Decoding is canonical: a payload that decodes re-encodes to the same bytes.
extension Message {
    /// The size of nonces and proofs (SHA-256 output).
    static let secretSize = 32
    /// The smallest encoding of one `ModelInfo` (two empty strings, an Int64 and an absent shape): bounds the
    /// model list count.
    private static let minimumModelInfoSize = 4 + 4 + 8 + 1

    func writePayload(into b: inout ByteBuffer) {
        switch self {
        case .hello(let version, let name, let nonce):
            b.writeWireInteger(version)
            b.writeWireString(name)
            b.writeWireBytes(nonce)
        case .challenge(let nonce, let proof):
            b.writeWireBytes(nonce)
            b.writeWireBytes(proof)
        case .proof(let proof):
            b.writeWireBytes(proof)
        case .welcome(let coordinator, let heartbeatSeconds):
            b.writeWireString(coordinator)
            b.writeWireDouble(heartbeatSeconds)
        case .register(let info):
            b.writeWireString(info.name)
            b.writeWireString(info.address)
            b.writeWireInteger(info.cores)
            b.writeWireInteger(info.memoryBytes)
            b.writeWireString(info.version)
            b.writeWireString(info.kernels)
            b.writeWireInteger(UInt32(truncatingIfNeeded: info.models.count))
            for model in info.models {
                b.writeWireString(model.name)
                b.writeWireString(model.family)
                b.writeWireInteger(Int64(model.nativeSize))
                b.writeWireOptional(model.shape) { b, s in
                    for list in [s.unetChannels, s.vaeChannels] {
                        b.writeWireInteger(UInt32(truncatingIfNeeded: list.count))
                        for c in list { b.writeWireInteger(Int64(c)) }
                    }
                    b.writeWireInteger(UInt32(truncatingIfNeeded: s.attentionLevels.count))
                    for a in s.attentionLevels { b.writeWireBool(a) }
                    b.writeWireInteger(Int64(s.unetLayers))
                    b.writeWireInteger(Int64(s.vaeFactor))
                    b.writeWireInteger(s.weightBytes)
                }
            }
            b.writeWireOptional(info.peerAddress) { $0.writeWireString($1) }
        case .heartbeat(let state):
            b.writeWireOptional(state) { b, s in
                b.writeWireOptional(s.busyJobID) { $0.writeWireInteger($1) }
                b.writeWireOptional(s.attempt) { $0.writeWireInteger($1) }
                b.writeWireOptional(s.step) { $0.writeWireInteger($1) }
                b.writeWireOptional(s.stepsPerSecond) { $0.writeWireDouble($1) }
                b.writeWireBool(s.draining)
            }
        case .assign(let a):
            b.writeWireInteger(a.jobID)
            b.writeWireInteger(a.attempt)
            b.writeWireString(a.model)
            b.writeWireString(a.requestJSON)
            b.writeWireOptional(a.initImage) { $0.writeWireBytes($1) }
            b.writeWireOptional(a.checkpoint) { $0.writeWireBytes($1) }
            b.writeWireOptional(a.checkpointStep) { $0.writeWireInteger($1) }
            b.writeWireInteger(a.checkpointEvery)
            b.writeWireOptional(a.group) { b, g in
                b.writeWireInteger(g.groupID)
                b.writeWireInteger(g.rank)
                b.writeWireInteger(UInt32(truncatingIfNeeded: g.peers.count))
                for (peer, name) in zip(g.peers, g.names) {
                    b.writeWireString(peer)
                    b.writeWireString(name)
                }
            }
        case .accepted(let jobID, let attempt), .cancel(let jobID, let attempt):
            b.writeWireInteger(jobID)
            b.writeWireInteger(attempt)
        case .progress(let jobID, let attempt, let step, let steps):
            b.writeWireInteger(jobID)
            b.writeWireInteger(attempt)
            b.writeWireInteger(step)
            b.writeWireInteger(steps)
        case .checkpoint(let jobID, let attempt, let step, let state):
            b.writeWireInteger(jobID)
            b.writeWireInteger(attempt)
            b.writeWireInteger(step)
            b.writeWireBytes(state)
        case .result(let jobID, let attempt, let png, let latents, let metadataJSON):
            b.writeWireInteger(jobID)
            b.writeWireInteger(attempt)
            b.writeWireBytes(png)
            b.writeWireTensor(latents)
            b.writeWireString(metadataJSON)
        case .failed(let jobID, let attempt, let message, let retryable):
            b.writeWireInteger(jobID)
            b.writeWireInteger(attempt)
            b.writeWireString(message)
            b.writeWireBool(retryable)
        case .drain:
            break
        case .goodbye(let reason):
            b.writeWireString(reason)
        case .peerHello(let hello):
            hello.write(into: &b)
        case .peerChallenge(let nonce, let proof):
            b.writeWireBytes(nonce)
            b.writeWireBytes(proof)
        case .peerProof(let proof):
            b.writeWireBytes(proof)
        case .peerWelcome:
            break
        case .peerData(let data):
            data.write(into: &b)
        case .memberDone(let jobID, let attempt, let error):
            b.writeWireInteger(jobID)
            b.writeWireInteger(attempt)
            b.writeWireOptional(error) { $0.writeWireString($1) }
        case .preview(let jobID, let attempt, let step, let steps, let png):
            b.writeWireInteger(jobID)
            b.writeWireInteger(attempt)
            b.writeWireInteger(step)
            b.writeWireInteger(steps)
            b.writeWireBytes(png)
        }
    }

    /// Decodes one payload of `type`, which must consume `b` exactly.
    static func readPayload(type: MessageType, from b: inout ByteBuffer) throws -> Message {
        let message = try readFields(type: type, from: &b)
        guard b.readableBytes == 0 else { throw ProtocolError.trailingBytes(type: type, count: b.readableBytes) }
        return message
    }

    private static func readFields(type: MessageType, from b: inout ByteBuffer) throws -> Message {
        switch type {
        case .hello:
            return .hello(version: try b.readWireInteger("hello.version"),
                          name: try b.readWireString("hello.name"),
                          nonce: try b.readWireBytes("hello.nonce", exactly: secretSize))
        case .challenge:
            return .challenge(nonce: try b.readWireBytes("challenge.nonce", exactly: secretSize),
                              proof: try b.readWireBytes("challenge.proof", exactly: secretSize))
        case .proof:
            return .proof(proof: try b.readWireBytes("proof.proof", exactly: secretSize))
        case .welcome:
            return .welcome(coordinator: try b.readWireString("welcome.coordinator"),
                            heartbeatSeconds: try b.readWireDouble("welcome.heartbeatSeconds"))
        case .register:
            return .register(try readWorkerInfo(from: &b))
        case .heartbeat:
            return .heartbeat(state: try b.readWireOptional("heartbeat.state") { b in
                WorkerLinkState(busyJobID: try b.readWireOptional("heartbeat.busyJobID") {
                                    try $0.readWireInteger("heartbeat.busyJobID") },
                                attempt: try b.readWireOptional("heartbeat.attempt") {
                                    try $0.readWireInteger("heartbeat.attempt") },
                                step: try b.readWireOptional("heartbeat.step") {
                                    try $0.readWireInteger("heartbeat.step") },
                                stepsPerSecond: try b.readWireOptional("heartbeat.stepsPerSecond") {
                                    try $0.readWireDouble("heartbeat.stepsPerSecond") },
                                draining: try b.readWireBool("heartbeat.draining"))
            })
        case .assign:
            return .assign(Assignment(
                jobID: try b.readWireInteger("assign.jobID"),
                attempt: try b.readWireInteger("assign.attempt"),
                model: try b.readWireString("assign.model"),
                requestJSON: try b.readWireString("assign.requestJSON"),
                initImage: try b.readWireOptional("assign.initImage") { try $0.readWireBytes("assign.initImage") },
                checkpoint: try b.readWireOptional("assign.checkpoint") { try $0.readWireBytes("assign.checkpoint") },
                checkpointStep: try b.readWireOptional("assign.checkpointStep") {
                    try $0.readWireInteger("assign.checkpointStep") },
                checkpointEvery: try b.readWireInteger("assign.checkpointEvery"),
                group: try b.readWireOptional("assign.group") { try readGroup(from: &$0) }))
        case .accepted:
            return .accepted(jobID: try b.readWireInteger("accepted.jobID"),
                             attempt: try b.readWireInteger("accepted.attempt"))
        case .progress:
            return .progress(jobID: try b.readWireInteger("progress.jobID"),
                             attempt: try b.readWireInteger("progress.attempt"),
                             step: try b.readWireInteger("progress.step"),
                             steps: try b.readWireInteger("progress.steps"))
        case .checkpoint:
            return .checkpoint(jobID: try b.readWireInteger("checkpoint.jobID"),
                               attempt: try b.readWireInteger("checkpoint.attempt"),
                               step: try b.readWireInteger("checkpoint.step"),
                               state: try b.readWireBytes("checkpoint.state"))
        case .result:
            return .result(jobID: try b.readWireInteger("result.jobID"),
                           attempt: try b.readWireInteger("result.attempt"),
                           png: try b.readWireBytes("result.png"),
                           latents: try b.readWireTensor("result.latents"),
                           metadataJSON: try b.readWireString("result.metadataJSON"))
        case .failed:
            return .failed(jobID: try b.readWireInteger("failed.jobID"),
                           attempt: try b.readWireInteger("failed.attempt"),
                           message: try b.readWireString("failed.message"),
                           retryable: try b.readWireBool("failed.retryable"))
        case .cancel:
            return .cancel(jobID: try b.readWireInteger("cancel.jobID"),
                           attempt: try b.readWireInteger("cancel.attempt"))
        case .drain:
            return .drain
        case .goodbye:
            return .goodbye(reason: try b.readWireString("goodbye.reason"))
        case .peerHello:
            return .peerHello(try PeerHello.read(from: &b))
        case .peerChallenge:
            return .peerChallenge(nonce: try b.readWireBytes("peerChallenge.nonce", exactly: secretSize),
                                  proof: try b.readWireBytes("peerChallenge.proof", exactly: secretSize))
        case .peerProof:
            return .peerProof(proof: try b.readWireBytes("peerProof.proof", exactly: secretSize))
        case .peerWelcome:
            return .peerWelcome
        case .peerData:
            return .peerData(try PeerData.read(from: &b))
        case .memberDone:
            return .memberDone(jobID: try b.readWireInteger("memberDone.jobID"),
                               attempt: try b.readWireInteger("memberDone.attempt"),
                               error: try b.readWireOptional("memberDone.error") { try $0.readWireString("memberDone.error") })
        case .preview:
            let message = Message.preview(jobID: try b.readWireInteger("preview.jobID"),
                                          attempt: try b.readWireInteger("preview.attempt"),
                                          step: try b.readWireInteger("preview.step"),
                                          steps: try b.readWireInteger("preview.steps"),
                                          png: try b.readWireBytes("preview.png"))
            try message.validate()
            return message
        }
    }

    private static func readWorkerInfo(from b: inout ByteBuffer) throws -> WorkerInfo {
        let name = try b.readWireString("register.name")
        let address = try b.readWireString("register.address")
        let cores: Int32 = try b.readWireInteger("register.cores")
        let memoryBytes: Int64 = try b.readWireInteger("register.memoryBytes")
        let version = try b.readWireString("register.version")
        let kernels = try b.readWireString("register.kernels")
        let count = try b.readWireCount("register.models", minimumElementSize: minimumModelInfoSize,
                                        limit: WorkerInfo.maxModels)
        var models: [ModelInfo] = []
        models.reserveCapacity(count)
        for _ in 0..<count {
            let modelName = try b.readWireString("register.models.name")
            let family = try b.readWireString("register.models.family")
            let size: Int64 = try b.readWireInteger("register.models.nativeSize")
            guard let nativeSize = Int(exactly: size) else {
                throw ProtocolError.invalidField(name: "register.models.nativeSize", reason: "out of range")
            }
            let shape = try b.readWireOptional("register.models.shape") { try readModelShape(from: &$0) }
            models.append(ModelInfo(name: modelName, family: family, nativeSize: nativeSize, shape: shape))
        }
        let peerAddress = try b.readWireOptional("register.peerAddress") { try $0.readWireString("register.peerAddress") }
        return .init(name: name, address: address, cores: cores, memoryBytes: memoryBytes, version: version,
                     kernels: kernels, models: models, peerAddress: peerAddress)
    }

    private static func readModelShape(from b: inout ByteBuffer) throws -> ModelShape {
        func ints(_ field: String) throws -> [Int] {
            let count = try b.readWireCount(field, minimumElementSize: 8, limit: 16)
            return try (0..<count).map { _ in
                let v: Int64 = try b.readWireInteger(field)
                guard (0...1 << 20).contains(v) else { throw ProtocolError.invalidField(name: field, reason: "out of range") }
                return Int(v)
            }
        }
        let unet = try ints("register.models.shape.unetChannels")
        let vae = try ints("register.models.shape.vaeChannels")
        let count = try b.readWireCount("register.models.shape.attentionLevels", minimumElementSize: 1, limit: 16)
        let attention = try (0..<count).map { _ in try b.readWireBool("register.models.shape.attentionLevels") }
        let layers: Int64 = try b.readWireInteger("register.models.shape.unetLayers")
        let factor: Int64 = try b.readWireInteger("register.models.shape.vaeFactor")
        let weights: Int64 = try b.readWireInteger("register.models.shape.weightBytes")
        guard (0...64).contains(layers), (1...64).contains(factor), weights >= 0 else {
            throw ProtocolError.invalidField(name: "register.models.shape", reason: "layers, factor or weights out of range")
        }
        return ModelShape(unetChannels: unet, attentionLevels: attention, unetLayers: Int(layers), vaeChannels: vae,
                          vaeFactor: Int(factor), weightBytes: weights)
    }

    private static func readGroup(from b: inout ByteBuffer) throws -> GroupAssignment {
        let groupID: UInt64 = try b.readWireInteger("assign.group.id")
        let rank: Int32 = try b.readWireInteger("assign.group.rank")
        let count = try b.readWireCount("assign.group.peers", minimumElementSize: 8, limit: GroupAssignment.maxSize)
        var peers: [String] = [], names: [String] = []
        for _ in 0..<count {
            peers.append(try b.readWireString("assign.group.peer"))
            names.append(try b.readWireString("assign.group.name"))
        }
        guard count >= 2, rank >= 0, Int(rank) < count else {
            throw ProtocolError.invalidField(name: "assign.group", reason: "rank \(rank) of a group of \(count)")
        }
        return GroupAssignment(groupID: groupID, rank: rank, peers: peers, names: names)
    }

    /// Checks what `writePayload` cannot express or the peer would refuse (sizes of secrets, tensor shapes,
    /// finite numbers, list limits). The payload size is checked by `FrameCodec.encodeChecked`.
    func validate() throws {
        switch self {
        case .hello(_, _, let nonce):
            try Self.check(nonce, "hello.nonce")
        case .challenge(let nonce, let proof):
            try Self.check(nonce, "challenge.nonce")
            try Self.check(proof, "challenge.proof")
        case .proof(let proof):
            try Self.check(proof, "proof.proof")
        case .peerHello(let hello):
            try hello.validate()
        case .peerChallenge(let nonce, let proof):
            try Self.check(nonce, "peerChallenge.nonce")
            try Self.check(proof, "peerChallenge.proof")
        case .peerProof(let proof):
            try Self.check(proof, "peerProof.proof")
        case .peerData(let data):
            try data.validate()
        case .welcome(_, let heartbeatSeconds):
            guard heartbeatSeconds.isFinite else {
                throw ProtocolError.invalidField(name: "welcome.heartbeatSeconds", reason: "not a finite number")
            }
        case .register(let info):
            guard info.models.count <= WorkerInfo.maxModels else {
                throw ProtocolError.invalidField(name: "register.models", reason: "count \(info.models.count) "
                                                 + "exceeds the limit of \(WorkerInfo.maxModels)")
            }
            for m in info.models where Int64(exactly: m.nativeSize) == nil {
                throw ProtocolError.invalidField(name: "register.models.nativeSize", reason: "out of range")
            }
            for s in info.models.compactMap(\.shape) {
                let values = s.unetChannels + s.vaeChannels
                guard s.unetChannels.count <= 16, s.vaeChannels.count <= 16, s.attentionLevels.count <= 16,
                      values.allSatisfy({ (0...(1 << 20)).contains($0) }), (0...64).contains(s.unetLayers),
                      (1...64).contains(s.vaeFactor), s.weightBytes >= 0 else {
                    throw ProtocolError.invalidField(name: "register.models.shape", reason: "out of range")
                }
            }
        case .assign(let a):
            if let g = a.group, g.peers.count != g.names.count || g.peers.count < 2
                || g.peers.count > GroupAssignment.maxSize || g.rank < 0 || Int(g.rank) >= g.peers.count {
                throw ProtocolError.invalidField(name: "assign.group",
                                                 reason: "rank \(g.rank) of \(g.peers.count) peers and \(g.names.count) names")
            }
        case .heartbeat(let state):
            if let s = state?.stepsPerSecond, !s.isFinite {
                throw ProtocolError.invalidField(name: "heartbeat.stepsPerSecond", reason: "not a finite number")
            }
        case .result(_, _, _, let latents, _):
            guard latents.shape.count <= WireTensor.maxRank else {
                throw ProtocolError.invalidField(name: "result.latents.rank",
                                                 reason: "rank \(latents.shape.count) exceeds \(WireTensor.maxRank)")
            }
            guard let count = WireTensor.elementCount(of: latents.shape), count == latents.data.count else {
                throw ProtocolError.invalidField(name: "result.latents",
                                                 reason: "shape \(latents.shape) does not match "
                                                 + "\(latents.data.count) elements")
            }
        case .preview(_, _, let step, let steps, let png):
            guard png.count <= Message.maxPreviewBytes else {
                throw ProtocolError.invalidField(name: "preview.png", reason: "\(png.count) bytes exceeds \(Message.maxPreviewBytes)")
            }
            guard step >= 0, steps >= 0, step <= steps else {
                throw ProtocolError.invalidField(name: "preview.step", reason: "step \(step) of \(steps)")
            }
        default:
            break
        }
    }

    private static func check(_ secret: [UInt8], _ field: String) throws {
        guard secret.count == secretSize else {
            throw ProtocolError.invalidField(name: field, reason: "must be \(secretSize) bytes, got \(secret.count)")
        }
    }
}
