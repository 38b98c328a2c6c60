import HiDiffCore
import HiDiffTestSupport
import XCTest

/// Every kernel against PyTorch's output for the same inputs (`tools/reference/core_ops_ref.py`).
final class KernelParityTests: XCTestCase {
    /// Kernels are float32 like torch's; differences come only from summation order.
    let tolerance: Float = 1e-5

    private func cases() throws -> [String: [String: Any]] {
        let root = try XCTUnwrap(Fixtures.json("core_ops.json") as? [String: Any])
        return try XCTUnwrap(root["cases"] as? [String: [String: Any]])
    }

    private func run(_ c: [String: Any]) throws -> Tensor {
        let x = tensor(fromJSON: c["x"])
        switch c["op"] as! String {
        case "conv2d":
            return try XCTUnwrap(x).conv2d(weight: tensor(fromJSON: c["w"])!, bias: tensor(fromJSON: c["b"]),
                                           stride: c["stride"] as! Int, padding: c["padding"] as! Int,
                                           dilation: c["dilation"] as! Int)
        case "groupnorm":
            return x!.groupNorm(groups: c["groups"] as! Int, weight: tensor(fromJSON: c["w"]),
                                bias: tensor(fromJSON: c["b"]), eps: Float(c["eps"] as! Double))
        case "layernorm":
            return x!.layerNorm(weight: tensor(fromJSON: c["w"]), bias: tensor(fromJSON: c["b"]),
                                eps: Float(c["eps"] as! Double))
        case "softmax": return x!.softmaxLastAxis()
        case "silu": return x!.silu()
        case "gelu": return x!.gelu()
        case "gelu_tanh": return x!.geluTanh()
        case "quick_gelu": return x!.quickGelu()
        case "geglu": return x!.geglu()
        case "attention":
            return Tensor.attention(query: tensor(fromJSON: c["q"])!, key: tensor(fromJSON: c["k"])!,
                                    value: tensor(fromJSON: c["v"])!, heads: c["heads"] as! Int,
                                    causal: c["causal"] as! Bool)
        case "nearest":
            let size = c["size"] as! [Int]
            return x!.upsampleNearest(height: size[0], width: size[1])
        case "bicubic":
            let size = c["size"] as! [Int]
            return x!.resizeBicubic(height: size[0], width: size[1])
        case "avgpool": return x!.avgPool2x2CeilMode()
        case "roll": return x!.rolled(shifts: c["shifts"] as! [Int], axes: c["dims"] as! [Int])
        case let op: throw FixtureError("unknown op \(op) in core_ops.json")
        }
    }

    func testEveryKernelMatchesTorch() throws {
        let all = try cases()
        XCTAssertGreaterThanOrEqual(all.count, 27)
        for (name, c) in all.sorted(by: { $0.key < $1.key }) {
            let y = try run(c)
            let ref = try XCTUnwrap(tensor(fromJSON: c["y"]))
            XCTAssertEqual(y.shape, ref.shape, name)
            guard y.shape == ref.shape else { continue }
            let err = relativeError(y, ref)
            XCTAssertLessThanOrEqual(err, tolerance, "\(name): relative error \(err)")
        }
    }

    /// Long sequences are processed in query chunks; the result must not depend on the chunking.
    func testAttentionChunkingIsExact() {
        var g = SplitMix(seed: 7)
        let lq = 300, lk = 260, c = 16
        let q = g.tensor([1, lq, c]), k = g.tensor([1, lk, c]), v = g.tensor([1, lk, c])
        let whole = Tensor.attention(query: q, key: k, value: v, heads: 4)
        let parts = stride(from: 0, to: lq, by: 64).map { lo in
            Tensor.attention(query: q.slice(axis: 1, lo..<min(lq, lo + 64)), key: k, value: v, heads: 4)
        }
        XCTAssertLessThanOrEqual(relativeError(Tensor.concat(parts, axis: 1), whole), 1e-6)
    }

    func testShapeOpsRoundTrip() {
        var g = SplitMix(seed: 3)
        let x = g.tensor([2, 3, 4, 5])
        XCTAssertEqual(x.nchwToTokens().tokensToNCHW(height: 4, width: 5), x)
        XCTAssertEqual(x.permuted([0, 2, 3, 1]).permuted([0, 3, 1, 2]), x)
        XCTAssertEqual(Tensor.concat(x.chunked(3, axis: 1), axis: 1), x)
        XCTAssertEqual(x.rolled(shifts: [2, -1], axes: [2, 3]).rolled(shifts: [-2, 1], axes: [2, 3]), x)
        let p = x.padded(top: 1, bottom: 2, left: 0, right: 3)
        XCTAssertEqual(p.shape, [2, 3, 7, 8])
        XCTAssertEqual(p.slice(axis: 2, 1..<5).slice(axis: 3, 0..<5), x)
    }
}
