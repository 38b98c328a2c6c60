/// A VAE call that cannot run.
public enum VAEError: Error, CustomStringConvertible, Equatable {
    case invalidInput(name: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .invalidInput(let name, let expected, let found):
            return "VAE input \(name): expected \(expected), found \(found)"
        }
    }
}
