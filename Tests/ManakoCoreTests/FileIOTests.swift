import Foundation
import ManakoCore
import Testing

/// An empty file reads as no bytes, and so it does on two threads at once, thousands of times:
/// the empty array must not be made through the uninitialised-capacity initializer, which with
/// no capacity writes into the storage all empty arrays share (ThreadSanitizer, which CI runs
/// these tests under, reports that race; the empty model file of the hostile-input tests first
/// showed it).
@Test func emptyFilesReadAsNoBytesOnTwoThreadsAtOnce() {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("manako-empty-\(getpid()).bin").path
    #expect(FileManager.default.createFile(atPath: path, contents: Data()))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let nonEmpty = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
    defer { nonEmpty.deallocate() }
    nonEmpty.initialize(repeating: 0)
    Parallel.withThreads(2) {
        Parallel.forEach(64) { item in
            for _ in 0..<200 where (try? FileIO.read(path))?.isEmpty != true { nonEmpty[item] += 1 }
        }
    }
    #expect(nonEmpty.allSatisfy { $0 == 0 }, "an empty file read as bytes or failed")
}
