import Foundation
import HiDiffCore
import HiDiffModels
import HiDiffSchedulers

/// The checkpoint blob: safetensors bytes holding `latents` and the scheduler's tensors (`scheduler.<name>`,
/// F32), with the scalars in the header's `__metadata__` (the format name and version, what the checkpoint
/// was made for, the step position, the scheduler's integers and the generator state as JSON) and an
/// FNV-1a 64 checksum of all of it (metadata, tensor names and shapes, data).
extension DenoiseCheckpoint {
    /// The `format` metadata value of every checkpoint blob.
    public static let formatName = "hidiff-denoise-checkpoint"
    /// The blob layout version this engine writes and reads.
    public static let formatVersion = 1

    private static let schedulerPrefix = "scheduler."

    private enum Key {
        static let format = "format", version = "version", checksum = "checksum"
        static let scheduler = "scheduler", karras = "karras", steps = "steps", seed = "seed"
        static let totalSteps = "total_steps", nextIndex = "next_index", completedSteps = "completed_steps"
        static let schedulerIntegers = "scheduler_integers", generator = "generator", kernels = "kernels"
        static let all: Set<String> = [format, version, checksum, scheduler, karras, steps, seed, totalSteps,
                                       nextIndex, completedSteps, schedulerIntegers, generator, kernels]
    }

    /// The checkpoint as one self-describing blob (safetensors bytes); `init(serialized:)` reads it back.
    public func serialized() -> [UInt8] {
        let tensors = [("latents", latents)]
            + scheduler.tensors.sorted { $0.key < $1.key }.map { (Self.schedulerPrefix + $0.key, $0.value) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var metadata = [
            Key.format: Self.formatName, Key.version: "\(Self.formatVersion)",
            Key.scheduler: schedulerKind.rawValue, Key.karras: "\(karras)", Key.steps: "\(steps)",
            Key.seed: "\(seed)", Key.totalSteps: "\(totalSteps)", Key.nextIndex: "\(nextIndex)",
            Key.completedSteps: "\(completedSteps)",
            // Encoding [String: Int] and the generator state cannot fail.
            Key.schedulerIntegers: String(decoding: try! encoder.encode(scheduler.integers), as: UTF8.self),
        ]
        if let generator {
            metadata[Key.generator] = String(decoding: try! encoder.encode(generator), as: UTF8.self)
        }
        if let kernels { metadata[Key.kernels] = kernels }
        var checksum = FNV1a64()
        checksum.add(describing: metadata, tensors.map { ($0.0, $0.1.shape) })
        for (_, t) in tensors { checksum.add(t) }
        metadata[Key.checksum] = checksum.hex
        do {
            return try SafeTensorsWriter.serialize(tensors, metadata: metadata, name: "denoise checkpoint")
        } catch {
            // Names are "latents" and "scheduler.<unique key>": never duplicate or reserved.
            preconditionFailure("denoise checkpoint: \(error)")
        }
    }

    /// Reads a blob `serialized()` wrote, validating everything: a truncated or garbage blob, another
    /// format or version, a checksum mismatch, missing or malformed fields, tensors of another type or
    /// shape, or an impossible generator state throw a `DenoiseCheckpointError`; nothing traps.
    ///
    /// Whether it fits a request (scheduler, steps, seed, latent shape, img2img start) and whether the
    /// scheduler history fits that scheduler is checked when a pipeline resumes from it.
    public init(serialized bytes: [UInt8]) throws {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(bytes: bytes, name: "denoise checkpoint")
        } catch {
            throw DenoiseCheckpointError.unreadable(reason: "\(error)")
        }
        let m = file.metadata
        guard m[Key.format] == Self.formatName else {
            throw DenoiseCheckpointError.unsupportedFormat(reason: "format is \(m[Key.format].map { "'\($0)'" } ?? "missing"), expected '\(Self.formatName)'")
        }
        guard m[Key.version] == "\(Self.formatVersion)" else {
            throw DenoiseCheckpointError.unsupportedFormat(reason: "version \(m[Key.version] ?? "missing"); this engine reads version \(Self.formatVersion)")
        }
        if let extra = Set(m.keys).subtracting(Key.all).sorted().first {
            throw DenoiseCheckpointError.corrupt(reason: "unknown metadata field '\(extra)'")
        }
        // The header was validated: its length is the first 8 bytes, the data section follows it (in the
        // order of `file.names`, contiguous, as the writer lays it out).
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        var checksum = FNV1a64()
        checksum.add(describing: m, file.names.map { ($0, file.shape(of: $0) ?? []) })
        bytes[(8 + headerLength)...].withUnsafeBytes { checksum.add($0) }
        guard m[Key.checksum] == checksum.hex else {
            throw DenoiseCheckpointError.corrupt(reason: "checksum \(m[Key.checksum] ?? "missing") does not match the data (\(checksum.hex))")
        }

        func field<T>(_ key: String, _ parse: (String) -> T?) throws -> T {
            guard let text = m[key] else { throw DenoiseCheckpointError.corrupt(reason: "missing field '\(key)'") }
            guard let value = parse(text) else { throw DenoiseCheckpointError.corrupt(reason: "field '\(key)' = '\(text)' is malformed") }
            return value
        }
        func count(_ key: String) throws -> Int {
            let n = try field(key) { Int($0) }
            guard n >= 0 else { throw DenoiseCheckpointError.corrupt(reason: "field '\(key)' = \(n) is negative") }
            return n
        }
        let kind = try field(Key.scheduler) { SchedulerKind(rawValue: $0) }
        let karras = try field(Key.karras) { Bool($0) }
        let steps = try count(Key.steps), total = try count(Key.totalSteps)
        let seed = try field(Key.seed) { UInt64($0) }
        let next = try count(Key.nextIndex), completed = try count(Key.completedSteps)
        guard steps >= 1, completed <= total, completed <= next else {
            throw DenoiseCheckpointError.corrupt(reason: "inconsistent position: \(completed) of \(total) steps done, next index \(next), \(steps) steps requested")
        }
        let integers = try field(Key.schedulerIntegers) { try? JSONDecoder().decode([String: Int].self, from: Data($0.utf8)) }
        var generator: TorchGenerator.State?
        if m[Key.generator] != nil {
            let state = try field(Key.generator) { try? JSONDecoder().decode(TorchGenerator.State.self, from: Data($0.utf8)) }
            do {
                _ = try TorchGenerator(state: state)
            } catch {
                throw DenoiseCheckpointError.corrupt(reason: "\(error)")
            }
            generator = state
        }

        for name in file.names {
            guard file.dtype(of: name) == .f32 else {
                throw DenoiseCheckpointError.corrupt(reason: "tensor '\(name)' is \(file.dtype(of: name)?.name ?? "?"), expected F32")
            }
            guard name == "latents" || name.hasPrefix(Self.schedulerPrefix) else {
                throw DenoiseCheckpointError.corrupt(reason: "unexpected tensor '\(name)'")
            }
        }
        guard let shape = file.shape(of: "latents") else { throw DenoiseCheckpointError.corrupt(reason: "no 'latents' tensor") }
        guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
            throw DenoiseCheckpointError.corrupt(reason: "latents have shape \(shape), expected [1, C, H, W]")
        }
        var tensors: [String: Tensor] = [:]
        for name in file.names where name.hasPrefix(Self.schedulerPrefix) {
            guard file.shape(of: name) == shape else {
                throw DenoiseCheckpointError.corrupt(reason: "scheduler tensor '\(name)' has shape \(file.shape(of: name) ?? []), the latents \(shape)")
            }
            tensors[String(name.dropFirst(Self.schedulerPrefix.count))] = try file.load(name)
        }
        self.init(nextIndex: next, completedSteps: completed, latents: try file.load("latents"),
                  scheduler: SchedulerState(integers: integers, tensors: tensors), generator: generator,
                  schedulerKind: kind, karras: karras, steps: steps, seed: seed, totalSteps: total,
                  kernels: m[Key.kernels])
    }
}

/// FNV-1a 64 over bytes: the checkpoint's checksum against damage in storage or transit.
private struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        value = h
    }

    /// Adds the metadata (but its `checksum`) in key order and the tensor names and shapes in data order,
    /// so that the checksum covers every field, not only the tensor data.
    mutating func add(describing metadata: [String: String], _ tensors: [(String, [Int])]) {
        var text = ""
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where key != "checksum" {
            text += "\(key)=\(value)\n"
        }
        for (name, shape) in tensors { text += "\(name):\(shape)\n" }
        Array(text.utf8).withUnsafeBytes { add($0) }
    }

    /// Adds a tensor's data as safetensors stores it (little-endian float32).
    mutating func add(_ t: Tensor) {
        #if _endian(little)
        t.data.withUnsafeBytes { add($0) }
        #else
        t.data.map { $0.bitPattern.littleEndian }.withUnsafeBytes { add($0) }
        #endif
    }

    var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
