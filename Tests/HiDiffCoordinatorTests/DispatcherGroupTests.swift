import Foundation
import HiDiffCoordinator
import HiDiffCore
import HiDiffModels
import HiDiffPipeline
import HiDiffProtocol
import HiDiffStore
import XCTest

/// Sharded jobs in the dispatcher: a group is claimed only when enough idle workers offer the model, all
/// members are assigned at once with their ranks, and the first decisive event settles the job while the
/// other members are told to stop.
final class DispatcherGroupTests: XCTestCase {
    let w1 = ConnectionID(1), w2 = ConnectionID(2), w3 = ConnectionID(3)
    let lease = Lease(jobID: 7, attempt: 1, owner: "c1")

    func info(_ name: String, peer: String? = nil) -> WorkerInfo {
        WorkerInfo(name: name, address: "host", cores: 2, memoryBytes: 1 << 30, version: "test", kernels: "k",
                   models: [ModelInfo(name: "shapes", family: "sd", nativeSize: 64)], peerAddress: peer)
    }

    func job(group: Int) -> ClaimedJob {
        ClaimedJob(lease: lease, model: "shapes", requestJSON: "{}", steps: 10, initImage: nil, checkpoint: nil,
                   maxAttempts: 3, groupSize: group)
    }

    func sends(_ actions: [DispatcherAction]) -> [(ConnectionID, Message)] {
        actions.compactMap { if case let .send(id, m) = $0 { (id, m) } else { nil } }
    }

    func claims(_ actions: [DispatcherAction]) -> [(ConnectionID, [String: Int])] {
        actions.compactMap { if case let .claim(id, _, _, capacity) = $0 { (id, capacity) } else { nil } }
    }

    /// Three peer-capable workers; w1's claim came back with a job for a group of two.
    func grouped() -> (Dispatcher, [DispatcherAction]) {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        _ = d.handle(.registered(w1, info("w1", peer: "10.0.0.1:7001")), now: 0)
        _ = d.handle(.registered(w2, info("w2", peer: "10.0.0.2:7001")), now: 0)
        _ = d.handle(.registered(w3, info("w3", peer: "10.0.0.3:7001")), now: 0)
        let actions = d.handle(.claimed(w1, [job(group: 2)]), now: 0)
        return (d, actions)
    }

    func testOneClaimInFlightCountsTheIdleWorkersThatCouldJoin() {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        let first = claims(d.handle(.registered(w1, info("w1", peer: "a:1")), now: 0))
        XCTAssertEqual(first.map(\.0), [w1])
        XCTAssertEqual(first.first?.1, ["shapes": 1])
        // While w1's claim is in flight, new workers wait: what the claim counted stays true.
        XCTAssertTrue(claims(d.handle(.registered(w2, info("w2", peer: "b:1")), now: 0)).isEmpty)
        XCTAssertTrue(claims(d.handle(.registered(w3, info("w3")), now: 0)).isEmpty)
        // Empty: the next idle worker is asked, with w1 (idle, peer-capable) counted; w3 has no peer address.
        let next = claims(d.handle(.claimed(w1, []), now: 0))
        XCTAssertEqual(next.map(\.0), [w2])
        XCTAssertEqual(next.first?.1, ["shapes": 2])
    }

    func testAGroupIsAssignedAtOnceWithRanksAndPeers() {
        let (d, actions) = grouped()
        XCTAssertTrue(actions.contains { if case let .recordGroup(l, names) = $0 { l == lease && names == ["w1", "w2"] } else { false } })
        let assigns = sends(actions).compactMap { id, m -> (ConnectionID, Assignment)? in
            if case let .assign(a) = m { (id, a) } else { nil }
        }
        XCTAssertEqual(assigns.map(\.0), [w1, w2])
        XCTAssertEqual(assigns.map { $0.1.group?.rank }, [0, 1])
        XCTAssertEqual(assigns[0].1.group?.peers, ["10.0.0.1:7001", "10.0.0.2:7001"])
        XCTAssertEqual(assigns[0].1.group?.groupID, assigns[1].1.group?.groupID)
        // The third worker is asked next, and only it.
        XCTAssertEqual(claims(actions).map(\.0), [w3])
        XCTAssertEqual(d.leases, [lease])
    }

    func testTheLeaderCompletesAndEachFollowerFreesItself() {
        var (d, _) = grouped()
        let done = d.handle(.message(w1, .result(jobID: 7, attempt: 1, png: [1], latents: WireTensor(shape: [1], data: [0]),
                                                 metadataJSON: "{}")), now: 1)
        XCTAssertTrue(done.contains { if case .complete(lease, _, _, _) = $0 { true } else { false } })
        XCTAssertTrue(sends(done).isEmpty, "no cancel after a success")
        let follower = d.handle(.message(w2, .memberDone(jobID: 7, attempt: 1, error: nil)), now: 1)
        XCTAssertFalse(follower.contains { if case .fail = $0 { true } else { false } })
        XCTAssertTrue(d.leases.isEmpty)
    }

    func testAFollowerResultIsRefused() {
        var (d, _) = grouped()
        let out = d.handle(.message(w2, .result(jobID: 7, attempt: 1, png: [1], latents: WireTensor(shape: [1], data: [0]),
                                                metadataJSON: "{}")), now: 1)
        guard case .close(w2, _)? = out.first else { return XCTFail("\(out)") }
        XCTAssertEqual(d.leases, [lease])
    }

    func testAFailedFollowerFailsTheAttemptRetryablyAndStopsTheLeader() {
        var (d, _) = grouped()
        let out = d.handle(.message(w2, .memberDone(jobID: 7, attempt: 1, error: "collective: lost the link to rank 0")), now: 1)
        guard case let .fail(l, error, retryable)? = out.first else { return XCTFail("\(out)") }
        XCTAssertEqual(l, lease)
        XCTAssertTrue(retryable)
        XCTAssertTrue(error.contains("w2"), error)
        XCTAssertEqual(sends(out).filter { if case .cancel = $0.1 { true } else { false } }.map(\.0), [w1])
        // The leader's own failure afterwards settles nothing twice.
        let later = d.handle(.message(w1, .failed(jobID: 7, attempt: 1, message: "peer lost", retryable: true)), now: 2)
        XCTAssertFalse(later.contains { if case .fail = $0 { true } else { false } })
    }

    func testALostMemberReleasesTheJobAndStopsTheOthers() {
        var (d, _) = grouped()
        let out = d.handle(.disconnected(w2, reason: "killed"), now: 1)
        XCTAssertTrue(out.contains { if case .release(lease, _) = $0 { true } else { false } })
        XCTAssertEqual(sends(out).map(\.0), [w1])
        // The stopped leader's failure is not a second verdict; it becomes idle and claims again.
        let after = d.handle(.message(w1, .failed(jobID: 7, attempt: 1, message: "peer lost", retryable: true)), now: 2)
        XCTAssertFalse(after.contains { if case .fail = $0 { true } else { false } })
        XCTAssertTrue(d.leases.isEmpty)
    }

    func testCancelReachesEveryMember() {
        var (d, _) = grouped()
        XCTAssertEqual(sends(d.handle(.cancelRequested([lease]), now: 1)).map(\.0), [w1, w2])
    }
}

/// Jobs submitted without `--workers`: the group size comes from the model's memory estimate.
final class DispatcherAutoSizeTests: XCTestCase {
    let w1 = ConnectionID(1), w2 = ConnectionID(2), w3 = ConnectionID(3)
    let lease = Lease(jobID: 9, attempt: 1, owner: "c1")
    let shape = ModelShape(unetChannels: [320, 640, 1280, 1280], attentionLevels: [true, true, true, false],
                           unetLayers: 2, vaeChannels: [128, 256, 512, 512], vaeFactor: 8, weightBytes: 4 << 30)

    func info(_ name: String, memory: Int64) -> WorkerInfo {
        WorkerInfo(name: name, address: "host", cores: 2, memoryBytes: memory, version: "test", kernels: "k",
                   models: [ModelInfo(name: "sd15", family: "sd", nativeSize: 512, shape: shape)],
                   peerAddress: "\(name):7421")
    }

    func job(_ size: Int?, initImage: [UInt8]? = nil) -> ClaimedJob {
        // The request as `submit` stores it (guided, HiDiffusion on auto; img2img without a size).
        let request = GenerationRequest(prompt: "a cat", width: size, height: size, steps: 10, guidanceScale: 7.5)
        let json = String(decoding: try! JSONEncoder().encode(request), as: UTF8.self)
        return ClaimedJob(lease: lease, model: "sd15", requestJSON: json, steps: 10, initImage: initImage,
                          checkpoint: nil, maxAttempts: 3, groupSize: nil)
    }

    /// The first 24 bytes of a PNG declaring `width` x `height` (all the sizing reads).
    func pngHeader(_ width: UInt32, _ height: UInt32) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
            + withUnsafeBytes(of: width.bigEndian, Array.init) + withUnsafeBytes(of: height.bigEndian, Array.init)
    }

    /// img2img renders at the init image's size: a 2048 px init image needs the 2048 px group, a 512 px one
    /// a single worker (the model's native size would have been assumed for both before).
    func testImg2ImgIsSizedByItsInitImage() {
        var big = dispatcher(workers: 3)
        let actions = big.handle(.claimed(w1, [job(nil, initImage: pngHeader(2048, 2048))]), now: 0)
        XCTAssertTrue(actions.contains { if case let .recordGroup(_, names) = $0 { names.count == 3 } else { false } }, "\(actions)")
        var small = dispatcher(workers: 3)
        let one = small.handle(.claimed(w1, [job(nil, initImage: pngHeader(512, 512))]), now: 0)
        XCTAssertEqual(one.filter { if case .send(_, .assign) = $0 { true } else { false } }.count, 1, "\(one)")
    }

    /// Three workers that each hold a 2048 px job only when it is split in three.
    var memory: Int64 { MemoryEstimate.perWorker(shape, width: 2048, height: 2048, batch: 2, parts: 3) }

    func dispatcher(workers: Int) -> Dispatcher {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        for (i, id) in [w1, w2, w3].prefix(workers).enumerated() {
            _ = d.handle(.registered(id, info("w\(i + 1)", memory: memory)), now: 0)
        }
        return d
    }

    func testASmallJobRunsOnOneWorker() {
        var d = dispatcher(workers: 3)
        let actions = d.handle(.claimed(w1, [job(512)]), now: 0)
        let assigns = actions.filter { if case .send(_, .assign) = $0 { true } else { false } }
        XCTAssertEqual(assigns.count, 1)
    }

    func testALargeJobGetsTheGroupItsEstimateNeeds() {
        var d = dispatcher(workers: 3)
        let actions = d.handle(.claimed(w1, [job(2048)]), now: 0)
        XCTAssertTrue(actions.contains { if case let .recordGroup(_, names) = $0 { names.count == 3 } else { false } }, "\(actions)")
    }

    func testWithTooFewFreeWorkersTheSizeIsFixedAndTheJobWaits() {
        var d = dispatcher(workers: 2)
        let actions = d.handle(.claimed(w1, [job(2048)]), now: 0)
        XCTAssertTrue(actions.contains { if case .setGroupSize(lease, 3) = $0 { true } else { false } }, "\(actions)")
        XCTAssertTrue(actions.contains { if case .release(lease, _) = $0 { true } else { false } })
        XCTAssertTrue(d.leases.isEmpty)
    }

    func testAJobNoGroupCanHoldFailsWithWhatWouldWork() {
        var d = Dispatcher(leaseSeconds: 30, checkpointEvery: 5, now: 0)
        _ = d.handle(.registered(w1, info("w1", memory: 1 << 30)), now: 0)
        let actions = d.handle(.claimed(w1, [job(1024)]), now: 0)
        guard case let .fail(l, error, retryable)? = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(l, lease)
        XCTAssertFalse(retryable)
        XCTAssertTrue(error.contains("more memory") && error.contains("GiB"), error)
    }
}
