import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// How many threads the kernels of the current graph run may use. Set per run by the caller's
/// thread (Graph.run); worker threads see 1, so parallel loops never nest.
public enum Parallel {
    nonisolated(unsafe) static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The current thread's allowance (1 unless a graph run set it).
    public static var threads: Int {
        Int(bitPattern: pthread_getspecific(key)).clamped(to: 1...256)
    }

    /// Runs `body` with `threads` set for the calling thread.
    public static func withThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: max(1, threads)))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }

    /// Calls `body(chunk)` for chunks 0..<count, on up to `threads` threads; chunks must be independent.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let threads = min(self.threads, count)
        if threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The chunks are independent by contract; the closure writes disjoint memory.
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: count) { work($0) }
        }
    }

    /// Splits 0..<total into `threads` contiguous ranges.
    public static func ranges(_ total: Int) -> [Range<Int>] {
        let parts = max(1, min(threads, total))
        return (0..<parts).map { p in (total * p / parts)..<(total * (p + 1) / parts) }
    }
}

extension Int {
    func clamped(to range: ClosedRange<Int>) -> Int { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
