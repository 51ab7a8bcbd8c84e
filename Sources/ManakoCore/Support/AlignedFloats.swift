/// Floats in 64-byte-aligned memory: weights packed at load, and the activations the
/// channel-blocked kernels write (`Tensor(shape:aligned:)`). The microkernels load and store
/// whole 32-byte vectors; a [Float]'s elements are only 16-byte aligned (a large one's start 48
/// bytes past a cache line: glibc's 16-byte mmap header plus the array's 32), so every other
/// such access would straddle two cache lines. Weights are immutable once written; an
/// activation is written only by the kernel that draws it from the buffer pool. The one
/// exception to the alignment: a caller's input borrowed for a run (`init(borrowing:count:)`),
/// 16-byte aligned like an array's elements.
public final class AlignedFloats: @unchecked Sendable {
    public let count: Int
    private let base: UnsafeMutablePointer<Float>
    /// False for a caller's memory borrowed for one run (`init(borrowing:count:)`): never freed
    /// here, never recycled into a buffer pool, never written.
    let owned: Bool

    /// `count` floats that `initialize` must write in full.
    public init(count: Int, _ initialize: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.count = count
        base = AlignedFloats.allocate(count)
        owned = true
        initialize(UnsafeMutableBufferPointer(start: base, count: count))
    }

    /// A view of `count` floats that the caller owns and keeps alive and unchanged while the
    /// view exists: an input fed through the C ABI, read where it is for the one run instead of
    /// copied (a 224x224 image's copy cost 0.1 ms, 1 % of MobileNetV2 on two threads).
    public init(borrowing base: UnsafePointer<Float>, count: Int) {
        self.count = count
        self.base = UnsafeMutablePointer(mutating: base)
        owned = false
    }

    /// Uninitialized memory for `count` floats, 64-byte aligned; large arrays start on a 2 MB
    /// boundary, on huge pages (`HugePages`).
    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: bytes >= HugePages.bytes ? HugePages.bytes : 64)
        HugePages.advise(raw, byteCount: bytes)
        return raw.bindMemory(to: Float.self, capacity: max(1, count))
    }

    deinit {
        if owned { base.deallocate() }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// The memory to write, for the buffer pool's owner of a fresh or recycled activation only.
    var mutableBuffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    /// The elements copied into an array.
    public var array: [Float] { withUnsafeBufferPointer { Array($0) } }
}
