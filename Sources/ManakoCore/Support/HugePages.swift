#if canImport(Glibc)
import Glibc
#endif

/// Transparent huge pages for the large buffers of a load (the file's bytes, decoded and packed
/// weights): memory first touched 4 KB at a time costs a page fault per 4 KB, which was a third
/// of a large model's load time (VGG-19's 548 MB of weights decoded at 0.4 GB/s), and streaming
/// weights through 4 KB pages costs a TLB miss per page. The advice is only advice: where huge
/// pages are off the memory behaves the same.
public enum HugePages {
    /// Buffers from this size on are advised.
    public static let bytes = 2 << 20

    /// Advises huge pages for the whole pages inside [start, start + byteCount), if that is large.
    public static func advise(_ start: UnsafeMutableRawPointer, byteCount: Int) {
        #if canImport(Glibc)
        guard byteCount >= bytes else { return }
        let page = 4096, address = Int(bitPattern: start)
        let first = (address + page - 1) / page * page, end = (address + byteCount) / page * page
        if end > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_HUGEPAGE) }
        #endif
    }

    /// An array of `count` elements that `fill` writes in full (or throws), advised before the
    /// first write.
    public static func array<T>(_ count: Int, _ fill: (UnsafeMutableBufferPointer<T>) throws -> Void) rethrows -> [T] {
        try [T].uninitialized(capacity: count) { buffer, initialized in
            if let base = buffer.baseAddress { advise(UnsafeMutableRawPointer(base), byteCount: count * MemoryLayout<T>.stride) }
            try fill(buffer)
            initialized = count
        }
    }
}
