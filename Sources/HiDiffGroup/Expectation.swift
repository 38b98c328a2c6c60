import HiDiffCore
import HiDiffProtocol

/// What a call expects the next block from a link to be; anything else is a `CollectiveError.mismatch`.
struct Expectation: CustomStringConvertible {
    var call: UInt32
    var op: PeerOp
    var kind: CollectiveKind
    var origin: Int
    var axis: Int
    /// The block's shape; nil where any extent is fine (the gathered axis).
    var shape: [Int?]

    var description: String {
        let dims = shape.map { $0.map(String.init) ?? "*" }.joined(separator: ", ")
        return "call \(call) \(op) \(kind) from rank \(origin) (axis \(axis), shape [\(dims)])"
    }

    /// `message` described like an expectation, for the other half of a mismatch.
    static func describe(_ m: PeerData) -> String {
        "call \(m.sequence) \(m.op) \(m.kind) from rank \(m.origin) (axis \(m.axis), shape \(m.shape))"
    }

    /// Throws `.mismatch` (blaming `sender`) unless the first chunk of a block fits this expectation.
    func check(_ m: PeerData, groupID: UInt64, from sender: Int) throws {
        guard m.groupID == groupID else {
            throw CollectiveError.mismatch(rank: sender, expected: "group \(groupID)", got: "group \(m.groupID)")
        }
        let fits = m.sequence == call && m.op == op && m.kind == kind && m.origin == origin && m.axis == axis
            && m.shape.count == shape.count && zip(m.shape, shape).allSatisfy { d, e in e == nil || e == d }
        guard fits else {
            throw CollectiveError.mismatch(rank: sender, expected: description, got: Self.describe(m))
        }
    }
}
