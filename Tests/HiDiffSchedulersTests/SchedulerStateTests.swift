import HiDiffCore
import HiDiffSchedulers
import XCTest

/// `saveState` / `restoreState`: a scheduler rebuilt from its configuration and given the saved history
/// (and the generator its state) continues bit for bit, after any number of steps, for every kind and
/// variant; states that cannot come from the scheduler are refused with `SchedulerError.invalidState`.
final class SchedulerStateTests: XCTestCase {
    struct Variant {
        var name: String
        var kind: SchedulerKind
        var config = SchedulerConfig()
        var karras = false
        var eta: Float = 0
        var steps = 7

        func make() throws -> any Scheduler {
            try kind.makeScheduler(config: config, steps: steps, karras: karras, eta: eta)
        }
    }

    /// Stable Diffusion 1.5's scheduler config (PNDM class), used by every kind as a pipeline would.
    static var sd15: SchedulerConfig {
        var c = SchedulerConfig()
        c.betaSchedule = "scaled_linear"
        c.betaStart = 0.00085
        c.betaEnd = 0.012
        c.stepsOffset = 1
        c.skipPrkSteps = true
        c.setAlphaToOne = false
        c.clipSample = false
        return c
    }

    static var variants: [Variant] {
        var prk = sd15
        prk.skipPrkSteps = false
        var order3 = sd15
        order3.solverOrder = 3
        var heun = sd15
        heun.solverType = "heun"
        return [
            Variant(name: "pndm", kind: .pndm, config: sd15),
            Variant(name: "pndm-prk", kind: .pndm, config: prk, steps: 8),
            Variant(name: "ddim", kind: .ddim, config: sd15),
            Variant(name: "ddim-eta", kind: .ddim, config: sd15, eta: 0.7),
            Variant(name: "euler", kind: .euler, config: sd15),
            Variant(name: "euler-karras", kind: .euler, config: sd15, karras: true),
            Variant(name: "euler-a", kind: .eulerAncestral, config: sd15),
            Variant(name: "dpm++2m", kind: .dpmSolverMultistep, config: sd15),
            Variant(name: "dpm++2m-karras", kind: .dpmSolverMultistep, config: sd15, karras: true),
            Variant(name: "dpm++3m", kind: .dpmSolverMultistep, config: order3),
            Variant(name: "dpm++2m-heun", kind: .dpmSolverMultistep, config: heun, steps: 16),
        ]
    }

    /// A stand-in U-Net: deterministic in the sample and the step.
    private func modelOutput(_ sample: Tensor, _ base: Tensor, _ k: Int) -> Tensor {
        let a = Float(0.05 + 0.01 * Double(k % 7)), b = Float(0.9 - 0.02 * Double(k % 5))
        return Tensor(shape: sample.shape, data: zip(sample.data, base.data).map { $0 * a + $1 * b })
    }

    private func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }

    func testResumedSchedulersContinueBitForBit() throws {
        let shape = [1, 4, 4, 4]
        for v in Self.variants {
            var g0 = TorchGenerator(seed: 9)
            let base = g0.randn(shape)
            let start = v.kind == .pndm ? 0 : 1  // img2img-style truncated start for the others
            // The uninterrupted run, with every intermediate state.
            var scheduler = try v.make()
            var generator: TorchGenerator? = TorchGenerator(seed: 5)
            var sample = generator!.randn(shape) * scheduler.initNoiseSigma
            var saved: [(SchedulerState, TorchGenerator.State, Tensor)] = []
            for i in start..<scheduler.timesteps.count {
                saved.append((scheduler.saveState(), generator!.state, sample))
                let input = scheduler.scaleModelInput(sample, timestepIndex: i)
                sample = scheduler.step(modelOutput: modelOutput(input, base, i), timestepIndex: i, sample: sample,
                                        generator: &generator)
            }
            let final = sample
            saved.append((scheduler.saveState(), generator!.state, sample))
            if v.kind == .pndm || v.kind == .dpmSolverMultistep {
                XCTAssertFalse(saved[2].0.tensors.isEmpty, "\(v.name): history expected after 2 steps")
            } else {
                XCTAssertTrue(saved.allSatisfy { $0.0.isEmpty }, "\(v.name): no history expected")
            }
            // Resume from every point into a fresh scheduler and generator.
            for (k, (state, generatorState, resumeSample)) in saved.enumerated() {
                var fresh = try v.make()
                try fresh.restoreState(state)
                XCTAssertEqual(fresh.saveState(), state, "\(v.name) k=\(k): state round trip")
                var g: TorchGenerator? = try TorchGenerator(state: generatorState)
                var x = resumeSample
                for i in (start + k)..<fresh.timesteps.count {
                    let input = fresh.scaleModelInput(x, timestepIndex: i)
                    x = fresh.step(modelOutput: modelOutput(input, base, i), timestepIndex: i, sample: x, generator: &g)
                }
                XCTAssertEqual(bits(x), bits(final), "\(v.name): resumed after \(k) steps")
            }
        }
    }

    private func assertInvalid(_ scheduler: any Scheduler, _ state: SchedulerState, _ label: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        var s = scheduler
        let before = s.saveState()
        XCTAssertThrowsError(try s.restoreState(state), label, file: file, line: line) { error in
            guard case SchedulerError.invalidState = error else {
                return XCTFail("\(label): \(error)", file: file, line: line)
            }
            XCTAssertTrue("\(error)".contains("cannot restore"), "\(error)", file: file, line: line)
        }
        XCTAssertEqual(s.saveState(), before, "\(label): a refused state must leave the scheduler unchanged",
                       file: file, line: line)
    }

    func testImpossibleStatesAreRefused() throws {
        let t = Tensor(zeros: [1, 4, 2, 2]), other = Tensor(zeros: [1, 4, 2, 3])
        let pndm = try SchedulerKind.pndm.makeScheduler(config: Self.sd15, steps: 5)
        assertInvalid(pndm, SchedulerState(), "pndm: empty")
        assertInvalid(pndm, SchedulerState(integers: ["counter": 3, "ets_count": 2], tensors: ["ets.0": t]),
                      "pndm: count without tensors")
        assertInvalid(pndm, SchedulerState(integers: ["counter": 5, "ets_count": 1], tensors: ["ets.0": t]),
                      "pndm: history too short for the counter")
        assertInvalid(pndm, SchedulerState(integers: ["counter": -1, "ets_count": 0]), "pndm: negative counter")
        assertInvalid(pndm, SchedulerState(integers: ["counter": 99, "ets_count": 4]), "pndm: counter beyond the run")
        assertInvalid(pndm, SchedulerState(integers: ["counter": 4, "ets_count": 3],
                                           tensors: ["ets.0": t, "ets.1": t, "ets.2": other]), "pndm: mixed shapes")
        assertInvalid(pndm, SchedulerState(integers: ["counter": 0, "ets_count": 0, "extra": 1]), "pndm: extra integer")

        let dpm = try SchedulerKind.dpmSolverMultistep.makeScheduler(config: Self.sd15, steps: 5)
        assertInvalid(dpm, SchedulerState(integers: ["solver_order": 3, "lower_order_nums": 0]), "dpm: other order")
        assertInvalid(dpm, SchedulerState(integers: ["solver_order": 2, "lower_order_nums": 2],
                                          tensors: ["model_outputs.1": t]), "dpm: missing history")
        assertInvalid(dpm, SchedulerState(integers: ["solver_order": 2, "lower_order_nums": 1],
                                          tensors: ["model_outputs.0": t]), "dpm: history in the wrong slot")
        assertInvalid(dpm, SchedulerState(integers: ["solver_order": 2, "lower_order_nums": 3]), "dpm: count above order")

        for kind in [SchedulerKind.ddim, .euler, .eulerAncestral] {
            let s = try kind.makeScheduler(config: Self.sd15, steps: 5)
            assertInvalid(s, SchedulerState(integers: ["counter": 1]), "\(kind): history for a stateless scheduler")
            assertInvalid(s, SchedulerState(tensors: ["ets.0": t]), "\(kind): tensor for a stateless scheduler")
            var fresh = s
            XCTAssertNoThrow(try fresh.restoreState(SchedulerState()))
        }
    }
}
