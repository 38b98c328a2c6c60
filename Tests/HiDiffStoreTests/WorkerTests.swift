import Foundation
import HiDiffPostgres
import HiDiffStore
import XCTest

final class WorkerTests: StoreTestCase {
    private func registration(_ name: String, models: [String] = ["sd15"]) -> WorkerRegistration {
        WorkerRegistration(name: name, address: "10.0.0.2:7070", cores: 16, memoryBytes: 64 << 30, models: models,
                           version: "0.9.1", kernels: "openblas")
    }

    /// A worker that takes part in groups records where its peers reach it; one that does not, nothing.
    func testPeerAddressIsRecordedAndReplacedOnReRegistration() throws {
        var r = registration("w1")
        r.peerAddress = "10.0.0.2:7421"
        try store.registerWorker(r, coordinator: "coord-a")
        XCTAssertEqual(try store.workers().first?.peerAddress, "10.0.0.2:7421")
        try store.registerWorker(registration("w1"), coordinator: "coord-a")
        XCTAssertNil(try store.workers().first?.peerAddress)
    }

    func testRegisterHeartbeatDrainOffline() throws {
        try store.registerWorker(registration("w1", models: ["sd15", "sdxl"]), coordinator: "coord-a")
        var worker = try XCTUnwrap(try store.workers().first)
        XCTAssertEqual(worker.name, "w1")
        XCTAssertEqual(worker.address, "10.0.0.2:7070")
        XCTAssertEqual(worker.cores, 16)
        XCTAssertEqual(worker.memoryBytes, 64 << 30)
        XCTAssertEqual(worker.models, ["sd15", "sdxl"])
        XCTAssertEqual(worker.version, "0.9.1")
        XCTAssertEqual(worker.kernels, "openblas")
        XCTAssertEqual(worker.state, "idle")
        XCTAssertEqual(worker.coordinator, "coord-a")
        XCTAssertEqual(worker.registeredAt, clock.now())
        XCTAssertEqual(worker.lastHeartbeat, clock.now())

        let id = try XCTUnwrap(try submit(1).first)
        clock.advance(by: 5)
        try store.workerHeartbeat(name: "w1", state: "busy", currentJob: id, step: 3, stepsPerSecond: 2.25)
        worker = try XCTUnwrap(try store.workers().first)
        XCTAssertEqual(worker.state, "busy")
        XCTAssertEqual(worker.currentJob, id)
        XCTAssertEqual(worker.step, 3)
        XCTAssertEqual(worker.stepsPerSecond, 2.25)
        XCTAssertEqual(worker.lastHeartbeat, clock.now())

        try store.drainWorker(name: "w1")
        XCTAssertEqual(try store.workerState(name: "w1"), "draining")
        try store.workerHeartbeat(name: "w1", state: "busy", currentJob: id, step: 4, stepsPerSecond: 2)
        XCTAssertEqual(try store.workerState(name: "w1"), "draining", "a drain survives heartbeats")
        try store.workerHeartbeat(name: "w1", state: "idle", currentJob: nil, step: nil, stepsPerSecond: nil)
        XCTAssertEqual(try store.workerState(name: "w1"), "draining")

        try store.markWorkerOffline(name: "w1")
        worker = try XCTUnwrap(try store.workers().first)
        XCTAssertEqual(worker.state, "offline")
        XCTAssertNil(worker.currentJob)
        XCTAssertThrowsError(try store.drainWorker(name: "w1")) { error in
            guard case StoreError.invalid? = error as? StoreError else { return XCTFail("\(error)") }
        }
        // Registering again brings it back.
        try store.registerWorker(registration("w1"), coordinator: "coord-b")
        XCTAssertEqual(try store.workerState(name: "w1"), "idle")
        XCTAssertEqual(try store.workers().first?.coordinator, "coord-b")
        XCTAssertEqual(try store.workers().first?.models, ["sd15"])
    }

    func testUnknownWorkersAndInvalidStates() throws {
        XCTAssertNil(try store.workerState(name: "ghost"))
        for call in [{ try self.store.workerHeartbeat(name: "ghost", state: "idle", currentJob: nil, step: nil, stepsPerSecond: nil) },
                     { try self.store.markWorkerOffline(name: "ghost") },
                     { try self.store.drainWorker(name: "ghost") }] {
            XCTAssertThrowsError(try call()) { error in
                guard case StoreError.unknownWorker("ghost")? = error as? StoreError else { return XCTFail("\(error)") }
            }
        }
        try store.registerWorker(registration("w"), coordinator: "c")
        XCTAssertThrowsError(try store.workerHeartbeat(name: "w", state: "sleeping", currentJob: nil, step: nil,
                                                       stepsPerSecond: nil)) { error in
            guard case StoreError.invalid(let message)? = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("workers_state_known"), message)
        }
        XCTAssertThrowsError(try store.workerHeartbeat(name: "w", state: "idle", currentJob: 1, step: nil, stepsPerSecond: nil),
                             "an idle worker has no current job")
        XCTAssertThrowsError(try store.registerWorker(WorkerRegistration(name: "bad", address: "", cores: 0, memoryBytes: 0,
                                                                         models: [], version: "", kernels: ""),
                                                      coordinator: "c"))
        XCTAssertEqual(try store.workerState(name: "w"), "idle")
    }

    func testModelsAvailableIgnoresOfflineWorkers() throws {
        XCTAssertEqual(try store.modelsAvailable(), [])
        try store.registerWorker(registration("a", models: ["sd15", "sdxl"]), coordinator: "c")
        try store.registerWorker(registration("b", models: ["sdxl", "flux"]), coordinator: "c")
        try store.registerWorker(registration("c", models: ["kandinsky"]), coordinator: "c")
        try store.markWorkerOffline(name: "c")
        XCTAssertEqual(try store.modelsAvailable(), ["sd15", "sdxl", "flux"])
        XCTAssertEqual(try store.workers().map(\.name), ["a", "b", "c"])
    }
}
