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

/// A mapped file holds the bytes a read gives, ranges and all (so do a copy and a borrowed
/// buffer); an empty file maps to no bytes;
/// a directory, a FIFO and a file over the limit are refused with their own errors.
@Test func mappedFilesHoldTheBytesAReadGives() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("manako-map-\(getpid())").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let bytes = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
    #expect(FileManager.default.createFile(atPath: folder + "/data.bin", contents: Data(bytes)))
    let store = try ByteStore.mapping(folder + "/data.bin")
    #expect(store.count == bytes.count)
    // (`bytes(_:)` points into the store: valid while it lives.)
    withExtendedLifetime(store) {
        #expect(Array(store.bytes(0..<store.count)) == bytes)
        #expect(store[99_999] == bytes[99_999])
        #expect(Array(store.bytes(4096..<4100)) == Array(bytes[4096..<4100]))
        #expect(store.bytes(7..<7).isEmpty)
    }
    let copy = ByteStore(copying: bytes)
    withExtendedLifetime(copy) { #expect(Array(copy.bytes(10..<20)) == Array(bytes[10..<20])) }
    #expect(bytes.withUnsafeBytes { Array(ByteStore(borrowing: $0).bytes(5..<9)) } == Array(bytes[5..<9]))

    #expect(FileManager.default.createFile(atPath: folder + "/empty.bin", contents: Data()))
    #expect(try ByteStore.mapping(folder + "/empty.bin").count == 0)
    #expect(try ByteStore.mapping(folder + "/empty.bin").bytes(0..<0).isEmpty)

    func failure(_ path: String, limit: Int = 4 << 30) -> ManakoError? {
        do { _ = try ByteStore.mapping(path, limit: limit); return nil } catch { return error as? ManakoError }
    }
    #expect(failure(folder + "/data.bin", limit: 100_002)?.code == .limitExceeded)
    #expect(failure(folder)?.message.contains("not a regular file") == true)
    #expect(failure(folder + "/missing.bin")?.code == .io)
    #expect(mkfifo(folder + "/fifo", 0o600) == 0)
    #expect(failure(folder + "/fifo")?.message.contains("not a regular file") == true)
}
