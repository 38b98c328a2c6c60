/// A decoded model config whose numeric fields can be range-checked against the file they came from.
///
/// `DiffusersFolder.config(_:file:as:)` runs `checkValues(file:)` right after decoding, so a value that
/// would trap or silently produce black images (zero groups, negative layer counts, a zero epsilon) is
/// refused at load with the file and field named.
public protocol ConfigValueChecking {
    /// Throws `ModelConfigError.outOfRange` naming `file` and the first field out of range.
    func checkValues(file: String) throws
}
