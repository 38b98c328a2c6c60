import Dispatch
import HiDiffKernels
import XCTest

final class ScratchPoolTests: XCTestCase {
    private let megabyte = 1 << 20

    func testAReturnedBufferServesTheNextCallerThatFitsIt() {
        let pool = ScratchPool(retainedBytes: 64 * megabyte)
        let first = pool.withBuffer(UInt8.self, capacity: 8 * megabyte) { p in
            p[8 * megabyte - 1] = 7
            return Int(bitPattern: p)
        }
        XCTAssertEqual(pool.idleBytes, 8 * megabyte, "kept, rounded to whole 2 MiB pages")
        XCTAssertEqual(first % (2 * megabyte), 0, "pooled buffers start on a huge-page boundary")
        let second = pool.withBuffer(Float.self, capacity: 1 * megabyte) { Int(bitPattern: $0) }
        XCTAssertEqual(second, first, "4 MB fit in the idle 8 MB buffer")
        let larger = pool.withBuffer(UInt8.self, capacity: 9 * megabyte) { Int(bitPattern: $0) }
        XCTAssertNotEqual(larger, first, "9 MB do not fit in it")
        XCTAssertEqual(pool.idleBytes, 8 * megabyte + 10 * megabyte)
    }

    func testBuffersHeldAtOnceNeverOverlap() {
        let pool = ScratchPool(retainedBytes: 64 * megabyte)
        let size = 4 * megabyte
        pool.withBuffer(UInt8.self, capacity: size) { a in
            pool.withBuffer(UInt8.self, capacity: size) { b in
                let (lo, hi) = (min(Int(bitPattern: a), Int(bitPattern: b)), max(Int(bitPattern: a), Int(bitPattern: b)))
                XCTAssertGreaterThanOrEqual(hi - lo, size)
            }
        }
        // Many threads at once, each filling its buffer with its own byte and checking it after the others ran.
        let corrupted = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        corrupted.initialize(repeating: 0, count: 64)
        defer { corrupted.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            pool.withBuffer(UInt8.self, capacity: size + i * 4096) { p in
                p.initialize(repeating: UInt8(i), count: size)
                for _ in 0..<3 { pool.withBuffer(UInt8.self, capacity: size) { $0[0] = 0 } }
                corrupted[i] = (0..<size).reduce(0) { $0 + (p[$1] == UInt8(i) ? 0 : 1) }
            }
        }
        XCTAssertEqual((0..<64).map { corrupted[$0] }, [Int](repeating: 0, count: 64))
        XCTAssertLessThanOrEqual(pool.idleBytes, 64 * megabyte)
    }

    func testIdleBytesStayWithinTheBoundOldestFreedFirst() {
        let pool = ScratchPool(retainedBytes: 16 * megabyte)
        var addresses: [Int] = []
        pool.withBuffer(UInt8.self, capacity: 8 * megabyte) { a in
            pool.withBuffer(UInt8.self, capacity: 8 * megabyte) { b in
                pool.withBuffer(UInt8.self, capacity: 8 * megabyte) { c in
                    addresses = [Int(bitPattern: c), Int(bitPattern: b), Int(bitPattern: a)]
                }
            }
        }
        // Returned c, b, a in that order: c, idle longest, was freed to keep 16 MB.
        XCTAssertEqual(pool.idleBytes, 16 * megabyte)
        let kept = pool.withBuffer(UInt8.self, capacity: 8 * megabyte) { p in
            pool.withBuffer(UInt8.self, capacity: 8 * megabyte) { q in Set([Int(bitPattern: p), Int(bitPattern: q)]) }
        }
        XCTAssertEqual(kept, Set(addresses[1...]))
    }

    func testSmallBuffersAreAlignedAndNotKept() {
        let pool = ScratchPool(retainedBytes: 64 * megabyte)
        let address = pool.withBuffer(UInt16.self, capacity: 1000) { p in
            p.initialize(repeating: 1, count: 1000)
            return Int(bitPattern: p)
        }
        XCTAssertEqual(address % 64, 0)
        XCTAssertEqual(pool.idleBytes, 0)
    }
}
