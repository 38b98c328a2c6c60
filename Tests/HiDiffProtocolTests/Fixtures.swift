import HiDiffCore
import HiDiffProtocol
import NIOCore
import XCTest

/// Deterministic PRNG for the fuzz test and sample data (SplitMix64: tiny, seedable, good enough).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

enum Fixtures {
    static let nonceA = [UInt8](repeating: 0xA5, count: 32)
    static let nonceB = (0..<32).map { UInt8($0) }
    static let token = Array("correct horse battery staple 42".utf8)

    static let models = [
        ModelInfo(name: "sd15", family: "sd15", nativeSize: 512),
        ModelInfo(name: "sdxl-base", family: "sdxl", nativeSize: 1024),
    ]

    static let info = WorkerInfo(name: "w1", address: "10.0.0.7:7001", cores: 16, memoryBytes: 64 << 30,
                                 version: "0.9.0", kernels: "openblas", models: models)

    static func tensor(_ shape: [Int], seed: UInt64 = 1) -> WireTensor {
        var rng = SplitMix64(seed: seed)
        let count = shape.reduce(1, *)
        return WireTensor(shape: shape, data: (0..<count).map { _ in Float.random(in: -4...4, using: &rng) })
    }

    /// At least one message per case and per interesting field combination (nil / non-nil, empty / non-empty).
    static let messages: [Message] = [
        .hello(version: UInt16(FrameCodec.protocolVersion), name: "worker-é-1", nonce: nonceA),
        .hello(version: 7, name: "", nonce: nonceB),
        .challenge(nonce: nonceB, proof: nonceA),
        .proof(proof: nonceB),
        .welcome(coordinator: "coord", heartbeatSeconds: 2.5),
        .welcome(coordinator: "", heartbeatSeconds: 0),
        .register(info),
        .register(WorkerInfo(name: "", address: "", cores: 0, memoryBytes: 0, version: "", kernels: "", models: [])),
        .register(WorkerInfo(name: "x", address: "y", cores: -1, memoryBytes: .min, version: "v", kernels: "k",
                             models: [ModelInfo(name: "m", family: "f", nativeSize: .max)])),
        .register(WorkerInfo(name: "g", address: "h", cores: 2, memoryBytes: 8 << 30, version: "v", kernels: "k",
                             models: [ModelInfo(name: "sd15", family: "sd", nativeSize: 512,
                                                shape: ModelShape(unetChannels: [320, 640, 1280, 1280],
                                                                  attentionLevels: [true, true, true, false], unetLayers: 2,
                                                                  vaeChannels: [128, 256, 512, 512], vaeFactor: 8,
                                                                  weightBytes: 4 << 30))],
                             peerAddress: "10.0.0.8:7421")),
        .heartbeat(state: nil),
        .heartbeat(state: .idle),
        .heartbeat(state: WorkerLinkState(busyJobID: 42, attempt: 3, step: 17, stepsPerSecond: 1.25, draining: true)),
        .heartbeat(state: WorkerLinkState(busyJobID: .max, attempt: nil, step: 0, stepsPerSecond: nil)),
        .assign(Assignment(jobID: 9, attempt: 1, model: "sd15", requestJSON: #"{"prompt":"a cat"}"#)),
        .assign(Assignment(jobID: .min, attempt: .max, model: "", requestJSON: "", initImage: [], checkpoint: [],
                           checkpointStep: 0, checkpointEvery: 0)),
        .assign(Assignment(jobID: 1, attempt: 2, model: "sdxl", requestJSON: "{}", initImage: [1, 2, 3],
                           checkpoint: Array(repeating: 7, count: 300), checkpointStep: 12, checkpointEvery: 5)),
        .assign(Assignment(jobID: 3, attempt: 1, model: "sd15", requestJSON: "{}", checkpointEvery: 5,
                           group: GroupAssignment(groupID: 77, rank: 1, peers: ["a:1", "b:2", "c:3"], names: ["x", "y", "z"]))),
        .accepted(jobID: 9, attempt: 1),
        .progress(jobID: 9, attempt: 1, step: 3, steps: 30),
        .checkpoint(jobID: 9, attempt: 1, step: 10, state: [9, 8, 7, 6]),
        .checkpoint(jobID: 9, attempt: 1, step: 0, state: []),
        .result(jobID: 9, attempt: 1, png: [0x89, 0x50, 0x4e, 0x47], latents: tensor([1, 4, 8, 8]),
                metadataJSON: #"{"seed":1}"#),
        .result(jobID: 9, attempt: 1, png: [], latents: .empty, metadataJSON: ""),
        .result(jobID: 2, attempt: 0, png: [1], latents: WireTensor(shape: [], data: [.nan]), metadataJSON: "ü"),
        .result(jobID: 2, attempt: 0, png: [1], latents: WireTensor(shape: [3, 0, 5], data: []), metadataJSON: "{}"),
        .failed(jobID: 9, attempt: 1, message: "out of memory", retryable: true),
        .failed(jobID: 9, attempt: 1, message: "", retryable: false),
        .cancel(jobID: 9, attempt: 1),
        .drain,
        .goodbye(reason: "bye 👋"),
        .goodbye(reason: ""),
        .peerHello(PeerHello(groupID: 0x0102_0304_0506_0708, size: 3, dialer: 2, acceptor: 0, nonce: nonceA)),
        .peerHello(PeerHello(groupID: .max, size: PeerHello.maxGroupSize, dialer: 0, acceptor: 1023, nonce: nonceB)),
        .peerChallenge(nonce: nonceB, proof: nonceA),
        .peerProof(proof: nonceA),
        .peerWelcome,
        .peerData(peerData(op: .rowsDown, kind: .halo, shape: [1, 2, 3, 2], chunk: 0, chunks: 1, offset: 0, count: 12)),
        .peerData(peerData(op: .rowsUp, kind: .halo, shape: [2, 4, 0, 8], chunk: 0, chunks: 1, offset: 0, count: 0)),
        .peerData(peerData(op: .allGather, kind: .attention, shape: [1, 5, 4], chunk: 1, chunks: 3, offset: 8,
                           count: 8)),
        .peerData(peerData(op: .allReduce, kind: .norm, shape: [6], chunk: 2, chunks: 3, offset: 4, count: 2)),
        .peerData(peerData(op: .allGather, kind: .geometry, shape: [], chunk: 0, chunks: 1, offset: 0, count: 1)),
        .memberDone(jobID: 9, attempt: 1, error: nil),
        .memberDone(jobID: 9, attempt: 2, error: "rank 2: out of memory"),
        .preview(jobID: 9, attempt: 1, step: 3, steps: 25, png: [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]),
        .preview(jobID: 9, attempt: 2, step: 0, steps: 0, png: []),
    ]

    /// A peer data chunk of `count` elements (4 or 8 bytes each by op) of pseudo-random bytes.
    static func peerData(op: PeerOp, kind: CollectiveKind, shape: [Int], chunk: Int, chunks: Int, offset: Int,
                         count: Int, sequence: UInt32 = 7) -> PeerData {
        var rng = SplitMix64(seed: UInt64(count * 31 + offset))
        let bytes = (0..<(count * op.elementSize)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return PeerData(groupID: 42, sequence: sequence, op: op, kind: kind, origin: 1, axis: min(1, max(shape.count - 1, 0)),
                        chunk: chunk, chunks: chunks, shape: shape, elementOffset: offset,
                        data: ByteBuffer(bytes: bytes))
    }

    static func frame(_ m: Message) -> ByteBuffer { FrameCodec.frame(m) }

    static func bytes(_ m: Message) -> [UInt8] {
        let b = FrameCodec.frame(m)
        return b.getBytes(at: b.readerIndex, length: b.readableBytes)!
    }

    /// Decodes `bytes` as one whole buffer; asserts a single frame consumed completely.
    static func decodeOne(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> Message? {
        var buffer = ByteBuffer(bytes: bytes)
        let m = try FrameCodec.decode(from: &buffer)
        if m != nil { XCTAssertEqual(buffer.readableBytes, 0, "frame not fully consumed", file: file, line: line) }
        return m
    }

    /// The ProtocolError thrown by decoding `bytes`, failing the test if none is thrown.
    static func decodeError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> ProtocolError? {
        do {
            let m = try decodeOne(bytes)
            XCTFail("expected a ProtocolError, got \(String(describing: m))", file: file, line: line)
        } catch let e as ProtocolError {
            return e
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
        return nil
    }

    /// A frame with an arbitrary header and payload, for hand-made malformed input.
    static func rawFrame(type: UInt8, payload: [UInt8], version: UInt8 = FrameCodec.protocolVersion, flags: UInt8 = 0,
                        reserved: UInt16 = 0, length: UInt32? = nil) -> [UInt8] {
        var b = ByteBuffer()
        b.writeBytes(Array("HDF".utf8))
        b.writeInteger(version)
        b.writeInteger(type)
        b.writeInteger(flags)
        b.writeInteger(reserved, endianness: .little)
        b.writeInteger(length ?? UInt32(payload.count), endianness: .little)
        b.writeBytes(payload)
        return b.getBytes(at: 0, length: b.readableBytes)!
    }
}

/// Little-endian payload builder for malformed frames.
struct PayloadBuilder {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
    mutating func u32(_ v: UInt32) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
    mutating func i32(_ v: Int32) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
    mutating func i64(_ v: Int64) { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
    mutating func f64(_ v: Double) { bytes += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
    mutating func blob(_ b: [UInt8]) { u32(UInt32(b.count)); bytes += b }
    mutating func string(_ s: String) { blob(Array(s.utf8)) }
}
