/// A U-Net call that cannot run: inputs or per-call options inconsistent with the model.
public enum UNetError: Error, CustomStringConvertible, Equatable {
    /// An input tensor or value has the wrong shape or count.
    case invalidInput(name: String, expected: String, found: String)
    /// A `UNetCallContext` switch names a block that cannot take it.
    case invalidCallContext(String)
    /// An up block's skip does not match the running feature map (inconsistent RAU-Net switches).
    case skipMismatch(upBlock: Int, pair: Int, hidden: [Int], skip: [Int])

    public var description: String {
        switch self {
        case .invalidInput(let name, let expected, let found):
            return "U-Net input \(name): expected \(expected), found \(found)"
        case .invalidCallContext(let why):
            return "U-Net call context: \(why)"
        case .skipMismatch(let block, let pair, let hidden, let skip):
            return "up_blocks.\(block) pair \(pair): feature map \(hidden) does not match its skip \(skip)"
        }
    }
}
