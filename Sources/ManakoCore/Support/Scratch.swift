#if canImport(Glibc)
import Glibc
#endif

/// Per-thread scratch memory for kernels (packed GEMM tiles, Winograd transforms), kept between
/// calls. A kernel that allocates a few hundred kilobytes per call otherwise pays for fresh pages
/// on every call: glibc returns freed memory at the top of the heap, or an mmap'd block, to the
/// kernel, and the next call page-faults it back in.
/// One buffer per thread, grown on demand and kept up to `retainedBytes`; larger requests and
/// nested use on the same thread get memory of their own, freed on return.
public enum Scratch {
    /// The most a thread keeps between calls.
    static let retainedBytes = 8 << 20
    static let skew = 1088

    final class Buffer {
        var base: UnsafeMutableRawPointer?
        var capacity = 0
        var inUse = false
        deinit { base?.deallocate() }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { buffer in
            if let buffer { Unmanaged<Buffer>.fromOpaque(buffer).release() }
        }
        return key
    }()

    private static var current: Buffer {
        if let existing = pthread_getspecific(key) { return Unmanaged<Buffer>.fromOpaque(existing).takeUnretainedValue() }
        let buffer = Buffer()
        pthread_setspecific(key, Unmanaged.passRetained(buffer).toOpaque())
        return buffer
    }

    /// Runs `body` with room for `count` floats (uninitialised, 64-byte aligned), valid only
    /// during the call.
    @inline(__always)
    public static func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        withFloats(count, 0) { first, _ in body(first) }
    }

    /// Two separate regions of `first` and `second` floats, each 64-byte aligned.
    @inline(__always)
    public static func withFloats<R>(_ first: Int, _ second: Int,
                                     _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> R) -> R {
        let firstBytes = (max(0, first) * MemoryLayout<Float>.stride + 63) & ~63
        let bytes = firstBytes + max(0, second) * MemoryLayout<Float>.stride + 64 + skew
        let buffer = current
        if buffer.inUse || bytes > retainedBytes {
            let own = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            defer { own.deallocate() }
            return body(own.assumingMemoryBound(to: Float.self), (own + firstBytes).assumingMemoryBound(to: Float.self))
        }
        if buffer.capacity < bytes {
            buffer.base?.deallocate()
            // Grow by at least half again, so a slowly rising size does not reallocate each time.
            buffer.capacity = min(retainedBytes, max(bytes, buffer.capacity * 3 / 2))
            buffer.base = UnsafeMutableRawPointer.allocate(byteCount: buffer.capacity, alignment: 64)
        }
        buffer.inUse = true
        defer { buffer.inUse = false }
        let base = buffer.base! + skew
        return body(base.assumingMemoryBound(to: Float.self), (base + firstBytes).assumingMemoryBound(to: Float.self))
    }
}
