import Foundation

/// The few numpy routines diffusers' `set_timesteps` relies on, reproduced operation for operation in double
/// precision so timesteps and sigmas come out identical.
enum NumPy {
    /// `np.linspace(start, stop, num)` (float64): `i * ((stop - start) / (num - 1)) + start`, last = stop.
    static func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        guard num > 1 else { return num == 1 ? [start] : [] }
        let step = (stop - start) / Double(num - 1)
        var y = (0..<num).map { Double($0) * step + start }
        y[num - 1] = stop
        return y
    }

    /// `np.arange(start, stop, step)` with a float step: length `ceil((stop - start) / step)`, then
    /// `start + i * ((start + step) - start)`, as numpy's fill function computes it.
    static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let length = Int(((stop - start) / step).rounded(.up))
        guard length > 0 else { return [] }
        var y = [start]
        guard length > 1 else { return y }
        let next = start + step
        y.append(next)
        let delta = next - start
        for i in 2..<length { y.append(start + Double(i) * delta) }
        return y
    }

    /// `np.round` (half to even).
    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// `np.interp(x, np.arange(len(fp)), fp)` in float64.
    static func interp(_ x: [Double], _ fp: [Float]) -> [Double] {
        let last = fp.count - 1
        return x.map { v in
            if v.isNaN { return v }
            if v <= 0 { return Double(fp[0]) }
            if v >= Double(last) { return Double(fp[last]) }
            let j = Int(v.rounded(.down))
            if Double(j) == v { return Double(fp[j]) }
            let slope = (Double(fp[j + 1]) - Double(fp[j])) / (Double(j + 1) - Double(j))
            return slope * (v - Double(j)) + Double(fp[j])
        }
    }

    /// diffusers' `_sigma_to_t`: the fractional training timestep of `sigma` by linear interpolation in
    /// log-sigma (`logSigmas` is float32, ascending), mixing float32 and float64 as numpy does.
    static func sigmaToT(_ sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = Foundation.log(max(sigma, 1e-10))
        // Index of the last log-sigma <= logSigma (0 when there is none), clipped to count - 2.
        var low = 0
        for (k, ls) in logSigmas.enumerated() where logSigma - Double(ls) >= 0 { low = k }
        low = min(low, logSigmas.count - 2)
        let high = low + 1
        let lowValue = logSigmas[low], highValue = logSigmas[high]
        var w = (Double(lowValue) - logSigma) / Double(lowValue - highValue)  // denominator in float32
        w = min(max(w, 0), 1)
        return (1 - w) * Double(low) + w * Double(high)
    }

    /// diffusers' `_convert_to_karras`: `num` sigmas from `sigmaMax` to `sigmaMin` with rho = 7.
    static func karras(sigmaMin: Double, sigmaMax: Double, num: Int) -> [Double] {
        let rho = 7.0
        let ramp = linspace(0, 1, num)
        let minInvRho = Foundation.pow(sigmaMin, 1 / rho)
        let maxInvRho = Foundation.pow(sigmaMax, 1 / rho)
        return ramp.map { Foundation.pow(maxInvRho + $0 * (minInvRho - maxInvRho), rho) }
    }
}
