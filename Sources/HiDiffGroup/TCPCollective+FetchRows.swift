import HiDiffCore
import HiDiffProtocol

extension TCPCollective {
    /// Rows travel along the ring as `RowRoutes` lays out: a member first sends its own rows on both links (at
    /// most one message each way), then takes what arrives from `previous` (keeping what it needs, passing the
    /// message on, chunk by chunk, while ranks farther on need some of it), then likewise from `next`. Sends
    /// never block and each link's arrivals come in an order every member computes alike, so no member waits
    /// on one that waits on it.
    public func fetchRows(_ x: Tensor, axis: Int, plan: RowFetchPlan, kind: CollectiveKind) throws -> Tensor {
        let call = try begin()
        do {
            try plan.check(x, axis: axis, rank: rank, size: size)
            guard x.rank <= WireTensor.maxRank else {
                throw CollectiveError.invalidStripe(reason: "cannot send rows of a tensor of shape \(x.shape)")
            }
            guard let next, let previous, size > 1 else {
                return plan.assemble(rank: rank, axis: axis, local: x) { _ in x }
            }
            let routes = RowRoutes(plan: plan)
            let mine = [plan.stripes[rank]]
            for (direction, link) in [(RowRoutes.Direction.down, next), (.up, previous)] {
                guard let message = routes.message(from: rank, direction) else { continue }
                let rows = RowFetchPlan.select(message.rows, from: x, holding: mine, axis: axis)
                try send(WireBlock(rows), origin: rank, op: .fetchRows, kind: kind, axis: axis, call: call, on: link)
            }
            var received: [Int: Tensor] = [:]
            for (direction, from, onward) in [(RowRoutes.Direction.down, previous, next), (.up, next, previous)] {
                for message in routes.arrivals(at: rank, direction) {
                    var shape: [Int?] = x.shape
                    shape[axis] = message.rows.reduce(0) { $0 + $1.count }
                    let block = try receive(on: from, Expectation(call: call, op: .fetchRows, kind: kind,
                                                                  origin: message.origin, axis: axis, shape: shape),
                                            forwardingTo: routes.forwards(message, at: rank) ? onward : nil)
                    let wanted = plan.rows(from: message.origin, to: rank)
                    if !wanted.isEmpty {
                        received[message.origin] = RowFetchPlan.select(wanted, from: block.tensor,
                                                                       holding: message.rows, axis: axis)
                    }
                }
            }
            return plan.assemble(rank: rank, axis: axis, local: x) { received[$0]! }
        } catch {
            throw fail(error)
        }
    }
}
