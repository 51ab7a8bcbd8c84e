#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-only bytes a model is parsed from: a file mapped into memory, a copy of an array, or a
/// caller's memory borrowed for the length of a call.
/// Mapping a model reads its pages straight from the page cache: reading it into an array
/// copied the whole file into fresh memory first (ResNet-50: 102 MB faulted in and copied, a
/// third of the memory a load touched). Reads are bounds-checked like an array's.
public final class ByteStore: @unchecked Sendable {
    public let count: Int
    private let base: UnsafeRawPointer?
    private let owner: Owner

    private enum Owner { case mapping, allocation, caller }

    /// A copy of `bytes`.
    public init(copying bytes: [UInt8]) {
        count = bytes.count
        owner = .allocation
        guard !bytes.isEmpty else { base = nil; return }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        base = UnsafeRawPointer(memory)
    }

    private init(mapping base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
        owner = .mapping
    }

    /// The caller's bytes, which must outlive this store (which neither frees nor writes them).
    public init(borrowing bytes: UnsafeRawBufferPointer) {
        base = bytes.baseAddress.map { UnsafeRawPointer($0) }
        count = bytes.count
        owner = .caller
    }

    /// The file at `path` mapped read-only (read into memory where it cannot be mapped), refusing
    /// what `FileIO.read` refuses.
    /// (Another process truncating the file while it is mapped makes reads past the new end
    /// fault: model files are not expected to change under a load.)
    public static func mapping(_ path: String, limit: Int = 4 << 30) throws -> ByteStore {
        let (fd, size) = try FileIO.openRegularFile(path, limit: limit)
        defer { close(fd) }
        if size == 0 { return ByteStore(copying: []) }
        #if canImport(Glibc)
        // MAP_POPULATE maps every page up front: one pass instead of a fault per 64 KB.
        let flags = MAP_PRIVATE | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE
        #endif
        guard let mapped = mmap(nil, size, PROT_READ, flags, fd, 0), mapped != MAP_FAILED else {
            return ByteStore(copying: try FileIO.read(path, limit: limit))
        }
        return ByteStore(mapping: UnsafeRawPointer(mapped), count: size)
    }

    deinit {
        guard let base else { return }
        switch owner {
        case .mapping: munmap(UnsafeMutableRawPointer(mutating: base), count)
        case .allocation: base.deallocate()
        case .caller: break
        }
    }

    @inline(__always)
    public subscript(_ index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "byte \(index) of \(count)")
        return base.unsafelyUnwrapped.load(fromByteOffset: index, as: UInt8.self)
    }

    /// The bytes in `range`, valid while this store lives.
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "bytes \(range) of \(count)")
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }
}
