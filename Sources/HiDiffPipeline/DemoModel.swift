import Foundation

/// The model `hidiff generate` uses without `--model`: the demo model committed under `models/`.
public enum DemoModel {
    /// Folder names tried under `models/`, best first.
    public static let candidates = ["shapes"]

    /// The demo model's folder: `$HIDIFF_MODEL`, else `models/<name>` next to the executable's package
    /// checkout or the current directory.
    public static func path() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["HIDIFF_MODEL"], !p.isEmpty { return p }
        var roots = [FileManager.default.currentDirectoryPath]
        // The executable lives in <package>/.build/<config>/hidiff; walk up to find models/.
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            roots.append(url.path)
            url = url.deletingLastPathComponent()
        }
        let fm = FileManager.default
        for root in roots {
            for name in candidates where fm.fileExists(atPath: "\(root)/models/\(name)/model_index.json") {
                return "\(root)/models/\(name)"
            }
        }
        throw PipelineError.invalidRequest(field: "model", reason: "no --model given and no demo model found (looked for models/\(candidates.joined(separator: ",")) under \(roots.joined(separator: ", "))); pass --model DIR or set HIDIFF_MODEL")
    }
}
