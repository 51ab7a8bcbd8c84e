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

    /// Uninitialized memory for `count` floats, 64-byte aligned; large arrays start on a 2 MB
    /// boundary, on huge pages (`HugePages`).
    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: bytes >= HugePages.bytes ? HugePages.bytes : 64)
        HugePages.advise(raw, byteCount: bytes)
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
