/// Floats in 64-byte-aligned memory: weights packed at load, and the activations the
/// channel-blocked kernels write (`Tensor(shape:aligned:)`). The microkernels load and store
/// whole 32-byte vectors; a [Float]'s elements are only 16-byte aligned (a large one's start 48
/// bytes past a cache line: glibc's 16-byte mmap header plus the array's 32), so every other
/// such access would straddle two cache lines. Weights are immutable once written; an
/// activation is written only by the kernel that draws it from the buffer pool. The one
/// exception to the alignment: a caller's input borrowed for a run (`init(borrowing:count:)`),
/// 16-byte aligned like an array's elements.
public final class AlignedFloats: @unchecked Sendable {
    /// The floats in use; a buffer pool may set it again (up to `capacity`) when it hands a
    /// buffer no one else holds to a new owner.
    public internal(set) var count: Int
    /// The floats allocated.
    public let capacity: Int
    private let base: UnsafeMutablePointer<Float>
    /// The shared chunk a small buffer was carved from (`SmallBufferChunks`), kept alive with it;
    /// nil for memory of its own.
    private let chunk: SmallBufferChunks.Chunk?
    /// False for a caller's memory borrowed for one run (`init(borrowing:count:)`): never freed
    /// here, never recycled into a buffer pool, never written.
    let owned: Bool

    /// `count` floats that `initialize` must write in full; with `sharingHugePages` (weights
    /// packed at load, which live as long as their model), a small buffer is carved from a
    /// shared chunk on huge pages (`SmallBufferChunks`).
    public init(count: Int, sharingHugePages: Bool = false, _ initialize: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.count = count
        capacity = count
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        if sharingHugePages && bytes < HugePages.bytes {
            let (start, chunk) = SmallBufferChunks.allocate(bytes: bytes)
            base = start.bindMemory(to: Float.self, capacity: max(1, count))
            self.chunk = chunk
        } else {
            base = AlignedFloats.allocate(count)
            chunk = nil
        }
        owned = true
        initialize(UnsafeMutableBufferPointer(start: base, count: count))
    }

    /// Whether this buffer was carved from a shared chunk (`SmallBufferChunks`).
    public var sharesChunk: Bool { chunk != nil }

    /// A view of `count` floats that the caller owns and keeps alive and unchanged while the
    /// view exists: an input fed through the C ABI, read where it is for the one run instead of
    /// copied (a 224x224 image's copy cost 0.1 ms, 1 % of MobileNetV2 on two threads).
    public init(borrowing base: UnsafePointer<Float>, count: Int) {
        self.count = count
        capacity = count
        self.base = UnsafeMutablePointer(mutating: base)
        chunk = nil
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
        if owned && chunk == nil { base.deallocate() }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// The memory to write, for the buffer pool's owner of a fresh or recycled activation only.
    var mutableBuffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    /// The elements copied into an array.
    public var array: [Float] { withUnsafeBufferPointer { Array($0) } }
}

/// Small packed weights (`AlignedFloats(count:sharingHugePages:)`) side by side in shared
/// 4 MB chunks on huge pages: a model's weights in thousands of separate 4 KB pages missed the
/// TLB on every run (MobileNetV2's 14 MB, 3,500 pages; the core's second-level TLB holds 2,048),
/// in a few 2 MB pages they do not (SqueezeNet 1-4 % faster on one thread, MobileNetV2 and Lite0
/// level). A chunk is freed when the last buffer in it goes; its free space is not reused
/// before then, which is why activations (recycled by size) keep memory of their own: with
/// them in chunks SqueezeNet's peak grew from 36 to 47 MB.
enum SmallBufferChunks {
    static let chunkBytes = 4 << 20

    /// One chunk's memory, freed with the last buffer that holds it.
    final class Chunk: @unchecked Sendable {
        let base: UnsafeMutableRawPointer

        init() {
            base = UnsafeMutableRawPointer.allocate(byteCount: chunkBytes, alignment: HugePages.bytes)
            HugePages.advise(base, byteCount: chunkBytes)
        }

        deinit { base.deallocate() }
    }

    /// The chunk being filled and the bytes used in it.
    private static let current = Locked<(chunk: Chunk?, used: Int)>((nil, 0))

    /// `bytes` (under `chunkBytes`) at a 64-byte boundary of a chunk, and the chunk to keep.
    static func allocate(bytes: Int) -> (UnsafeMutableRawPointer, Chunk) {
        let rounded = (bytes + 63) / 64 * 64
        precondition(rounded <= chunkBytes, "small buffers only")
        return current.withLock { state in
            if state.chunk == nil || state.used + rounded > chunkBytes { state = (Chunk(), 0) }
            let chunk = state.chunk!, start = chunk.base + state.used
            state.used += rounded
            return (start, chunk)
        }
    }
}
