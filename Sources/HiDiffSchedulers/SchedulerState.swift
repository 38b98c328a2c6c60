import HiDiffCore

/// A scheduler's mutable history between steps (PNDM's past model outputs, DPM-Solver's past data
/// predictions), as `Scheduler.saveState()` reports it and `restoreState(_:)` takes it back.
///
/// Schedulers without history (DDIM, Euler, Euler ancestral: their randomness lives in the pipeline's
/// generator) save an empty state. An optional tensor that is absent is simply not in `tensors`; lists are
/// stored as numbered entries (`name.0`, `name.1`, ...) with their count in `integers`. Every tensor has the
/// latents' shape.
public struct SchedulerState: Sendable, Equatable {
    /// Counters and list lengths, by name.
    public var integers: [String: Int]
    /// History tensors, by name.
    public var tensors: [String: Tensor]

    /// A state holding `integers` and `tensors`.
    public init(integers: [String: Int] = [:], tensors: [String: Tensor] = [:]) {
        self.integers = integers
        self.tensors = tensors
    }

    /// Whether the state holds nothing (the state of a scheduler without history).
    public var isEmpty: Bool { integers.isEmpty && tensors.isEmpty }

    /// The integer `name`, which must lie in `range`.
    func integer(_ name: String, in range: ClosedRange<Int>, scheduler: SchedulerKind) throws -> Int {
        guard let value = integers[name] else {
            throw SchedulerError.invalidState(scheduler: scheduler.className, reason: "missing integer '\(name)'")
        }
        guard range.contains(value) else {
            throw SchedulerError.invalidState(scheduler: scheduler.className,
                                              reason: "'\(name)' = \(value) is outside \(range)")
        }
        return value
    }

    /// Throws unless the state names exactly `integers` and `tensors`, and all its tensors share one shape.
    func expect(integers expectedIntegers: Set<String>, tensors expectedTensors: Set<String>,
                scheduler: SchedulerKind) throws {
        let name = scheduler.className
        let extraIntegers = Set(integers.keys).subtracting(expectedIntegers)
        let missingIntegers = expectedIntegers.subtracting(integers.keys)
        let extraTensors = Set(tensors.keys).subtracting(expectedTensors)
        let missingTensors = expectedTensors.subtracting(tensors.keys)
        for (what, names) in [("unexpected integer", extraIntegers), ("missing integer", missingIntegers),
                              ("unexpected tensor", extraTensors), ("missing tensor", missingTensors)]
            where !names.isEmpty {
            throw SchedulerError.invalidState(scheduler: name,
                                              reason: "\(what) \(names.sorted().map { "'\($0)'" }.joined(separator: ", "))")
        }
        let shapes = Set(tensors.values.map(\.shape))
        guard shapes.count <= 1 else {
            throw SchedulerError.invalidState(scheduler: name, reason: "history tensors have different shapes \(shapes.sorted { $0.lexicographicallyPrecedes($1) })")
        }
    }
}
