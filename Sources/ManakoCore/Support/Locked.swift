#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a pthread mutex. Synchronization's `Mutex` is built on atomics and futex
/// calls that ThreadSanitizer does not follow, so it reported races between accesses made under
/// the lock (two model loads in parallel tests, in `SmallBufferChunks`); pthread's lock it knows.
/// Public so that the C-ABI target's handle table uses the same lock.
public final class Locked<State>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var state: State

    public init(_ state: State) {
        self.state = state
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&state)
    }
}
