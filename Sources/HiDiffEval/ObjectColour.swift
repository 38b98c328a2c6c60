/// The object colours of the demo model's captions, as `count_objects.py` classifies pixels into them.
public enum ObjectColour: String, CaseIterable, Codable, Sendable {
    case red, green, blue, yellow

    /// The per-pixel label `ObjectCounter.classify` gives this colour (0 is "no colour"); the same ids as
    /// `count_objects.LABEL`.
    public var label: UInt8 {
        switch self {
        case .red: return 1
        case .green: return 2
        case .blue: return 3
        case .yellow: return 4
        }
    }
}
