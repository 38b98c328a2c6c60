import Foundation
import HiDiffTestSupport
import XCTest

/// Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol on a pipe
/// (`--remote-debugging-pipe`: fd 3 carries our commands, fd 4 its answers, each JSON message ended by a NUL),
/// so a test can wait on the live DOM of one page load. `--no-sandbox` because CI runs as root.
final class Chromium {
    private let pid: pid_t
    private let commands: Int32
    private let answers: Int32
    private var nextID = 0
    private var pending = Data()
    private var session: String?
    private let profile: String
    private let width: Int, height: Int

    /// `$HIDIFF_CHROMIUM`, else `chromium` or `chromium-browser` on PATH. None is a failure, not a skip
    /// (saying how to install it): `ops/install-deps` installs it for `ops/test`, so CI always has one.
    static func find() throws -> String {
        var candidates: [String] = []
        if let given = ProcessInfo.processInfo.environment["HIDIFF_CHROMIUM"], !given.isEmpty { candidates.append(given) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin"] {
            candidates += ["chromium", "chromium-browser"].map { "\(dir)/\($0)" }
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ChromiumError(message: "no chromium on PATH: install Debian's chromium package (ops/install-deps does) or set HIDIFF_CHROMIUM")
        }
        return found
    }

    /// Starts a headless browser with a fresh profile and a `width` x `height` window.
    init(path: String, width: Int = 1280, height: Int = 900) throws {
        profile = NSTemporaryDirectory() + "hidiff-chromium-\(UUID().uuidString.prefix(8))"
        self.width = width
        self.height = height
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else {
            throw ChromiumError(message: "pipe failed: errno \(errno)")
        }
        // Close-on-exec, so no other process started meanwhile holds the browser's pipe open (dup2 into
        // fds 3 and 4 clears the flag for the browser itself).
        for fd in toBrowser + fromBrowser { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let arguments = [path, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
                         "--mute-audio", "--hide-scrollbars", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                         "--user-data-dir=\(profile)", "--window-size=\(width),\(height)", "about:blank"]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, nil, argv, envp)
        close(toBrowser[0])
        close(fromBrowser[1])
        guard status == 0 else {
            close(toBrowser[1])
            close(fromBrowser[0])
            throw ChromiumError(message: "could not start \(path): error \(status)")
        }
        pid = child
        commands = toBrowser[1]
        answers = fromBrowser[0]
    }

    deinit {
        _ = try? call("Browser.close", [:], inSession: false, timeout: 5)
        close(commands)
        close(answers)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(5)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline { kill(pid, SIGKILL) }
            usleep(20_000)
        }
        try? FileManager.default.removeItem(atPath: profile)
    }

    /// Opens `url` in a new tab with a `width` x `height` viewport and attaches to it; later calls go to that tab.
    func open(_ url: String) throws {
        let target = try call("Target.createTarget", ["url": "about:blank"], inSession: false)
        let id = try XCTUnwrap(target["targetId"] as? String)
        let attached = try call("Target.attachToTarget", ["targetId": id, "flatten": true], inSession: false)
        session = try XCTUnwrap(attached["sessionId"] as? String)
        try call("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false])
        try call("Page.navigate", ["url": url])
    }

    /// The value of a JavaScript expression in the page (JSON-compatible values only).
    func evaluate(_ expression: String) throws -> Any? {
        let result = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
        if let exception = result["exceptionDetails"] { throw ChromiumError(message: "\(expression): \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// The page's DOM as HTML, now.
    func dom() throws -> String { try evaluate("document.documentElement.outerHTML") as? String ?? "" }

    /// Polls `expression` until it is true.
    func wait(for expression: String, timeout: Double) throws {
        try waitUntil(expression, timeout: timeout) { try evaluate(expression) as? Bool == true }
    }

    /// A PNG of the viewport.
    func screenshot() throws -> Data {
        let shot = try call("Page.captureScreenshot", ["format": "png"])
        return try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(shot["data"] as? String)))
    }

    /// Sends one command and returns its result, skipping events; throws its error or after `timeout` s.
    @discardableResult
    func call(_ method: String, _ params: [String: Any] = [:], inSession: Bool = true, timeout: Double = 30) throws -> [String: Any] {
        nextID += 1
        var message: [String: Any] = ["id": nextID, "method": method, "params": params]
        if inSession, let session { message["sessionId"] = session }
        var bytes = try JSONSerialization.data(withJSONObject: message)
        bytes.append(0)
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(commands, raw.baseAddress! + offset, raw.count - offset)
                guard n > 0 else { throw ChromiumError(message: "the browser closed its pipe (\(method))") }
                offset += n
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let reply = try readMessage(until: deadline, method: method)
            guard reply["id"] as? Int == nextID else { continue }
            if let error = reply["error"] { throw ChromiumError(message: "\(method): \(error)") }
            return reply["result"] as? [String: Any] ?? [:]
        }
    }

    private func readMessage(until deadline: Date, method: String) throws -> [String: Any] {
        while true {
            if let end = pending.firstIndex(of: 0) {
                let message = pending[pending.startIndex..<end]
                pending = Data(pending[pending.index(after: end)...])
                return try XCTUnwrap(try JSONSerialization.jsonObject(with: message) as? [String: Any])
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw ChromiumError(message: "no answer to \(method) in time") }
            var poller = pollfd(fd: answers, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(min(left, 1) * 1000)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let n = read(answers, &buffer, buffer.count)
            guard n > 0 else { throw ChromiumError(message: "the browser closed its pipe (\(method))") }
            pending.append(contentsOf: buffer[0..<n])
        }
    }
}

struct ChromiumError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// What the status page's DOM says (string matching on the markup the page's script writes).
struct PageDump {
    let html: String

    /// For each job, the steps the live status events reported, in the order received (entries
    /// `status N: job ID STEP/STEPS, ...` of `#live-entries`).
    func progressByJob() -> [Int64: [Int]] {
        var result: [Int64: [Int]] = [:]
        for entry in html.components(separatedBy: "<li class=\"live-status\">").dropFirst() {
            let text = entry.prefix { $0 != "<" }
            guard let colon = text.firstIndex(of: ":") else { continue }
            for part in text[text.index(after: colon)...].split(separator: ",") {
                let words = part.split(separator: " ")
                guard words.count == 3, words[0] == "job", let id = Int64(words[1]),
                      let step = words[2].split(separator: "/").first.flatMap({ Int($0) }) else { continue }
                result[id, default: []].append(step)
            }
        }
        return result
    }
}
