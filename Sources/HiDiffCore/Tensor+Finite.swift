extension Tensor {
    /// True when no element is NaN or infinite.
    public var isFinite: Bool {
        data.withUnsafeBufferPointer { buffer in
            // Summing x - x is 0 for every finite x and NaN otherwise: one branch-free pass.
            var acc: Float = 0
            for x in buffer { acc += x - x }
            return acc == 0
        }
    }
}
