import HiDiffCore
import HiDiffModels
import HiDiffPipeline
import HiDiffTestSupport
import XCTest

/// HiDiffusion's operators one at a time against the authors' code (`ops.safetensors`, made by
/// tools/reference/hidiffusion_ref.py): the RAD conv, the ceil-mode pool, bicubic and legacy-nearest resizes
/// as RAU-Net calls them, the window partition (shift, roll sign, window order, odd fallback) and whole
/// MSW-MSA transformer blocks for every shift bucket.
final class HiDiffusionOpsTests: XCTestCase {
    static let tolerance: Float = 1e-5

    func fixtures() throws -> (SafeTensorsFile, [String: Any]) {
        let file = try SafeTensorsFile(path: Fixtures.path("hidiffusion/ops.safetensors"))
        let root = try XCTUnwrap(Fixtures.json("hidiffusion/cases.json") as? [String: Any])
        return (file, try XCTUnwrap(root["ops"] as? [String: Any]))
    }

    func cases(_ ops: [String: Any], _ kind: String) throws -> [[String: Any]] {
        let list = try XCTUnwrap(ops[kind] as? [[String: Any]], "no \(kind) cases")
        XCTAssertFalse(list.isEmpty)
        return list
    }

    static func unet(_ model: String) throws -> UNet2DConditionModel {
        let (parent, component) = model == "sdxl" ? ("models", "sdxl-tiny-unet") : ("models/\(model)-tiny", "unet")
        let folder = DiffusersFolder(unindexed: Fixtures.path(parent))
        return try UNet2DConditionModel(config: folder.config(component, as: UNetConfig.self),
                                        weights: folder.weights(component))
    }

    func testResolutionAwareDownsampler() throws {
        let (file, ops) = try fixtures()
        let folder = DiffusersFolder(unindexed: Fixtures.path("models/sd15-tiny"))
        let weights = try folder.weights("unet")
        for c in try cases(ops, "rad") {
            let name = c["name"] as! String
            let x = try file.load("\(name).in"), ref = try file.load("\(name).out")
            let conv = try Downsample2D(weights.scoped(c["weights"] as! String), channels: x.dim(1), padding: 1)
            let y = try conv(x, geometry: .resolutionAwareDownsampler, collective: SingleShard())
            let size = c["size"] as! [Int]
            XCTAssertEqual(y.shape, [1, x.dim(1), (size[0] + 3) / 4, (size[1] + 3) / 4], name)
            XCTAssertEqual(y.shape, ref.shape, name)
            guard y.shape == ref.shape else { continue }
            XCTAssertLessThanOrEqual(relativeError(y, ref), Self.tolerance, name)
        }
    }

    func testPoolBicubicNearest() throws {
        let (file, ops) = try fixtures()
        for c in try cases(ops, "pool") {
            let name = c["name"] as! String
            let y = try file.load("\(name).in").avgPool2x2CeilMode(), ref = try file.load("\(name).out")
            XCTAssertEqual(y.shape, ref.shape, name)
            if y.shape == ref.shape { XCTAssertLessThanOrEqual(relativeError(y, ref), Self.tolerance, name) }
        }
        for kind in ["bicubic", "nearest"] {
            for c in try cases(ops, kind) {
                let name = c["name"] as! String, out = c["out"] as! [Int]
                let x = try file.load("\(name).in"), ref = try file.load("\(name).out")
                let y = kind == "bicubic" ? x.resizeBicubic(height: out[0], width: out[1])
                    : x.upsampleNearest(height: out[0], width: out[1])
                XCTAssertEqual(y.shape, ref.shape, name)
                if y.shape == ref.shape { XCTAssertLessThanOrEqual(relativeError(y, ref), Self.tolerance, name) }
            }
        }
    }

    /// The windows the authors hand to attn1: same shift, roll sign, window order and token order.
    func testWindowPartition() throws {
        let (file, ops) = try fixtures()
        for c in try cases(ops, "partition") {
            let name = c["name"] as! String, size = c["size"] as! [Int]
            let norm = try file.load("\(name).norm")
            for q in 0...3 {
                let grid = WindowPartition(height: size[0], width: size[1], bucket: q)
                let windows = grid.partition(norm)
                let ref = try file.load("\(name).q\(q).windows")
                XCTAssertEqual(windows.shape, ref.shape, "\(name) q=\(q)")
                guard windows.shape == ref.shape else { continue }
                if grid.resizes {
                    XCTAssertLessThanOrEqual(relativeError(windows, ref), Self.tolerance, "\(name) q=\(q)")
                } else {
                    // A pure permutation: bit-exact.
                    XCTAssertEqual(windows.maxAbsDifference(ref), 0, "\(name) q=\(q)")
                    XCTAssertEqual(grid.reverse(windows), norm, "\(name) q=\(q) round trip")
                }
            }
        }
    }

    func testPartitionGeometry() {
        // 128-wide map: windows 64, shifts 0, 16, 32, 48; window 25 -> 0, 6, 12, 18.
        XCTAssertEqual((0...3).map { WindowPartition(height: 128, width: 128, bucket: $0).shiftHeight }, [0, 16, 32, 48])
        XCTAssertEqual((0...3).map { WindowPartition(height: 50, width: 49, bucket: $0).shiftWidth }, [0, 6, 12, 18])
        // Only the height component is tested: a width-only shift does not roll.
        let flat = WindowPartition(height: 6, width: 16, bucket: 2)
        XCTAssertEqual(flat.shiftWidth, 4)
        XCTAssertFalse(flat.rolls)
        XCTAssertTrue(WindowPartition(height: 13, width: 20, bucket: 0).resizes)
    }

    /// Whole `BasicTransformerBlock`s with window attention, B = 2, every bucket, even and odd maps.
    func testWindowAttentionBlocks() throws {
        let (file, ops) = try fixtures()
        var models: [String: UNet2DConditionModel] = [:]
        var worst: [String] = []
        for c in try cases(ops, "msw") {
            let name = c["name"] as! String, model = c["model"] as! String, size = c["size"] as! [Int]
            if models[model] == nil { models[model] = try Self.unet(model) }
            let unet = models[model]!
            let block = try XCTUnwrap(Self.block(in: unet, path: c["block"] as! String), name)
            let family: ModelFamily = model == "sdxl" ? .sdxl : .sd
            let x = try file.load("\(name).x"), context = try file.load("\(name).context")
            for q in 0...3 {
                let window = WindowAttention(family: family, shift: .fixed(q))
                let call = UNetCallContext(collective: SingleShard(), selfAttentionOverride: window.override)
                let y = try block(x, height: size[0], width: size[1], context: context, call: call)
                let ref = try file.load("\(name).q\(q).out")
                let err = relativeError(y, ref)
                worst.append("\(name) q=\(q): \(err)")
                XCTAssertLessThanOrEqual(err, Self.tolerance, "\(name) q=\(q)")
                // The window result must differ from vanilla attention (or the test could not fail).
                let vanilla = try block(x, height: size[0], width: size[1], context: context, call: .wholeMap)
                XCTAssertGreaterThan(relativeError(vanilla, ref), 100 * Self.tolerance, "\(name) q=\(q) vanilla")
            }
        }
        print("MSW-MSA block parity (max abs err / max abs ref):\n  " + worst.joined(separator: "\n  "))
    }

    /// Sharded: horizontal stripes of the token map (even and uneven row counts) reassemble to the oracle.
    func testWindowAttentionOnStripes() throws {
        let (file, ops) = try fixtures()
        let unet = try Self.unet("sd15")
        for c in try cases(ops, "msw") where (c["model"] as! String) == "sd15" {
            let name = c["name"] as! String, size = c["size"] as! [Int]
            let block = try XCTUnwrap(Self.block(in: unet, path: c["block"] as! String))
            let x = try file.load("\(name).x"), context = try file.load("\(name).context")
            let (h, w) = (size[0], size[1])
            for parts in [2, 3] {
                // Rows per stripe: as even as possible, the first stripes taking the remainder.
                let rows = (0..<parts).map { h / parts + ($0 < h % parts ? 1 : 0) }
                let starts = rows.indices.map { rows[..<$0].reduce(0, +) }
                let q = parts  // any bucket; 2 and 3 both shift
                let window = WindowAttention(family: .sd, shift: .fixed(q))
                let outs = try LocalGroup(size: parts).run { rank, collective -> Tensor in
                    let mine = x.slice(axis: 1, (starts[rank] * w)..<((starts[rank] + rows[rank]) * w))
                    let call = UNetCallContext(collective: collective, selfAttentionOverride: window.override)
                    return try block(mine, height: rows[rank], width: w, context: context, call: call)
                }
                let y = Tensor.concat(outs, axis: 1)
                let ref = try file.load("\(name).q\(q).out")
                XCTAssertLessThanOrEqual(relativeError(y, ref), Self.tolerance, "\(name) K=\(parts)")
            }
        }
    }

    static func block(in unet: UNet2DConditionModel, path: String) -> BasicTransformerBlock? {
        for b in unet.downBlocks { for t in b.attentions { for blk in t.blocks where blk.path.description == path { return blk } } }
        for b in unet.upBlocks { for t in b.attentions { for blk in t.blocks where blk.path.description == path { return blk } } }
        return nil
    }
}
