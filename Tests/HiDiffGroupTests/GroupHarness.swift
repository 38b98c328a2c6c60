import Foundation
import HiDiffCore
import HiDiffGroup
import HiDiffTestSupport
import Logging
import XCTest

/// The token every test member holds unless a test says otherwise.
let groupToken = Array("group test token, 32 bytes long!".utf8)

/// Warnings and errors only: refusals and failures show in a failing test's output, listener starts do not.
let testLogger: Logger = {
    var logger = Logger(label: "hidiff.group.test")
    logger.logLevel = .warning
    return logger
}()

/// Runs `body(i)` for i in 0..<count, each on its own thread, and returns the results in order. A thread that
/// has not finished within `limit` seconds fails the test and its slot is nil: a hang becomes a failure.
func onThreads<T: Sendable>(_ count: Int, limit: Double = 30, file: StaticString = #filePath, line: UInt = #line,
                            _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>?] {
    let results = LockedBox<[Result<T, any Error>?]>(Array(repeating: nil, count: count))
    let done = DispatchGroup()
    for i in 0..<count {
        done.enter()
        let thread = Thread {
            let r = Result { try body(i) }
            results.withValue { $0[i] = r }
            done.leave()
        }
        thread.stackSize = 16 << 20
        thread.start()
    }
    if done.wait(timeout: .now() + limit) == .timedOut {
        XCTFail("threads still running after \(limit) s: \(results.current.enumerated().filter { $0.element == nil }.map(\.offset))",
                file: file, line: line)
    }
    return results.current
}

/// K members on 127.0.0.1, each with its own `PeerListener` (as each worker process has one).
final class LoopbackGroup: @unchecked Sendable {
    let listeners: [PeerListener]

    init(size: Int, handshakeTimeout: Double = 2) throws {
        listeners = try (0..<size).map { _ in
            try PeerListener.bindBlocking(host: "127.0.0.1", port: 0, handshakeTimeout: handshakeTimeout,
                                          logger: testLogger)
        }
    }

    deinit { listeners.forEach { $0.close() } }

    var size: Int { listeners.count }
    var addresses: [PeerAddress] { listeners.map { PeerAddress(host: "127.0.0.1", port: $0.port) } }

    func roster(_ rank: Int, group: UInt64) throws -> GroupRoster {
        try GroupRoster(groupID: group, members: addresses, rank: rank)
    }

    /// Every member joins on its own thread and runs `body` with its collective, then closes it.
    func run<T: Sendable>(group: UInt64 = .random(in: 1...UInt64.max),
                          configuration: TCPCollective.Configuration = .init(callTimeout: 5),
                          joinTimeout: Double = 10, limit: Double = 30,
                          token: @escaping @Sendable (Int) -> [UInt8] = { _ in groupToken },
                          file: StaticString = #filePath, line: UInt = #line,
                          _ body: @escaping @Sendable (Int, TCPCollective) throws -> T) -> [Result<T, any Error>?] {
        onThreads(size, limit: limit, file: file, line: line) { rank in
            let collective = try TCPCollective.joinBlocking(roster: try self.roster(rank, group: group),
                                                            listener: self.listeners[rank], token: token(rank),
                                                            timeout: joinTimeout, configuration: configuration,
                                                            logger: testLogger)
            defer { collective.close() }
            return try body(rank, collective)
        }
    }

    /// `run` for a body that must succeed on every member: its values in rank order (the test fails otherwise).
    func values<T: Sendable>(configuration: TCPCollective.Configuration = .init(callTimeout: 5),
                             file: StaticString = #filePath, line: UInt = #line,
                             _ body: @escaping @Sendable (Int, TCPCollective) throws -> T) throws -> [T] {
        try run(configuration: configuration, file: file, line: line, body).enumerated().map { rank, result in
            guard let result else { throw HarnessError("rank \(rank) did not finish") }
            return try result.get()
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Asserts that two tensors have the same shape and the same bits.
func assertSameBits(_ a: Tensor, _ b: Tensor, _ message: @autoclosure () -> String = "",
                    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, message(), file: file, line: line)
    if a.data.map(\.bitPattern) != b.data.map(\.bitPattern) {
        let i = zip(a.data, b.data).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }?.offset
        XCTFail("bits differ first at element \(i.map(String.init) ?? "?"): \(message())", file: file, line: line)
    }
}

/// Asserts that two arrays of doubles have the same bits.
func assertSameBits(_ a: [Double], _ b: [Double], _ message: @autoclosure () -> String = "",
                    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), message(), file: file, line: line)
}

/// `error` as a `CollectiveError` (failing the test when it is something else).
func collectiveError(_ result: Result<some Any, any Error>?, file: StaticString = #filePath,
                     line: UInt = #line) -> CollectiveError? {
    guard case .failure(let error)? = result else {
        XCTFail("expected a failure, got \(String(describing: result))", file: file, line: line)
        return nil
    }
    guard let e = error as? CollectiveError else {
        XCTFail("expected a CollectiveError, got \(error)", file: file, line: line)
        return nil
    }
    return e
}
