#if canImport(Glibc)
import Glibc
#endif

/// Immutable floats in 64-byte-aligned memory, for weights packed at load. The microkernels load
/// packed rows as whole 32-byte vectors; a [Float]'s storage is only 16-byte aligned, so in half
/// the arrays every other such load would straddle two cache lines.
public final class AlignedFloats: @unchecked Sendable {
    public let count: Int
    private let base: UnsafeMutablePointer<Float>
    private let owned: Bool

    /// `count` floats that `initialize` must write in full.
    public init(count: Int, _ initialize: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.count = count
        base = AlignedFloats.allocate(count)
        owned = true
        initialize(UnsafeMutableBufferPointer(start: base, count: count))
    }

    /// Arrays of at least this many bytes start on a 2 MB boundary and ask for transparent huge
    /// pages: packing a large model's weights faulted in one 4 KB page at a time (a third of its
    /// load time went to page faults), and each streamed 4 KB of weights cost a TLB miss.
    static let hugePageBytes = 2 << 20

    /// Uninitialized memory for `count` floats, 64-byte aligned (2 MB aligned when large).
    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        let huge = bytes >= hugePageBytes
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: huge ? hugePageBytes : 64)
        #if canImport(Glibc)
        // Advice only: without huge pages (disabled, or another kernel) the memory is the same.
        if huge { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
        #endif
        return raw.bindMemory(to: Float.self, capacity: max(1, count))
    }

    /// A view of memory the caller owns and keeps alive (and unchanged) while this object is used:
    /// weights rescaled per run into pooled memory.
    public init(borrowing memory: UnsafeMutablePointer<Float>, count: Int) {
        self.count = count
        base = memory
        owned = false
    }

    deinit {
        if owned { base.deallocate() }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }
}
