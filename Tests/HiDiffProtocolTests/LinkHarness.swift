import HiDiffProtocol
import NIOCore
import XCTest

/// Both link state machines wired to each other in memory. Every message goes through the real frame codec, and
/// every frame is kept so tests can inspect what crossed the "wire".
struct LinkHarness {
    var coordinator: CoordinatorLink
    var worker: WorkerLink
    var toCoordinator: [Message] = []
    var toWorker: [Message] = []
    /// Non-send actions, in order.
    var coordinatorEvents: [CoordinatorLink.Action] = []
    var workerEvents: [WorkerLink.Action] = []
    /// Every frame either side sent, encoded.
    var wire: [[UInt8]] = []
    var coordinatorClosed = false
    var workerClosed = false

    init(coordinatorToken: [UInt8] = Fixtures.token, workerToken: [UInt8] = Fixtures.token,
         heartbeatSeconds: Double = 2, deadAfter: Double = 6, now: Double = 0) {
        coordinator = CoordinatorLink(coordinatorName: "coord", token: coordinatorToken,
                                      heartbeatSeconds: heartbeatSeconds, deadAfter: deadAfter, now: now,
                                      nonce: Fixtures.nonceB)
        worker = WorkerLink(workerName: "w1", token: workerToken, now: now, nonce: Fixtures.nonceA)
    }

    /// Encodes and decodes `m` like a socket would.
    mutating func transmit(_ m: Message) -> Message {
        var buffer = ByteBuffer()
        XCTAssertNoThrow(try FrameCodec.encodeChecked(m, into: &buffer))
        wire.append(Array(buffer.readableBytesView))
        let decoded = try? FrameCodec.decode(from: &buffer)
        XCTAssertEqual(decoded, m)
        return decoded ?? m
    }

    mutating func applyCoordinator(_ actions: [CoordinatorLink.Action]) {
        for a in actions {
            XCTAssertFalse(coordinatorClosed, "coordinator acted after closing: \(a)")
            switch a {
            case .send(let m): toWorker.append(transmit(m))
            case .close: coordinatorClosed = true; coordinatorEvents.append(a)
            default: coordinatorEvents.append(a)
            }
        }
    }

    mutating func applyWorker(_ actions: [WorkerLink.Action]) {
        for a in actions {
            XCTAssertFalse(workerClosed, "worker acted after closing: \(a)")
            switch a {
            case .send(let m): toCoordinator.append(transmit(m))
            case .close: workerClosed = true; workerEvents.append(a)
            default: workerEvents.append(a)
            }
        }
    }

    /// Delivers queued messages both ways until both queues are empty (a closed side drops what it receives).
    mutating func pump(now: Double) {
        while !toCoordinator.isEmpty || !toWorker.isEmpty {
            if !toCoordinator.isEmpty {
                let m = toCoordinator.removeFirst()
                if !coordinatorClosed { applyCoordinator(coordinator.received(m, now: now)) }
            }
            if !toWorker.isEmpty {
                let m = toWorker.removeFirst()
                if !workerClosed { applyWorker(worker.received(m, now: now)) }
            }
        }
    }

    /// The message types that crossed the wire, in order.
    var transcript: [MessageType] { wire.map { MessageType(rawValue: $0[4])! } }

    /// Runs the whole handshake including register.
    mutating func handshake(now: Double = 0) {
        applyWorker(worker.start())
        pump(now: now)
        applyWorker(worker.send(.register(Fixtures.info)))
        pump(now: now)
    }
}
