#if canImport(Glibc)
import Glibc
#endif

/// One pointer-sized value per thread (a pthread key), set for the duration of a call. Graph
/// runs use it to hand per-run settings (thread allowance, element limit, buffer pool) to the
/// code below them without threading them through every operator.
struct ThreadLocalWord: Sendable {
    let key: pthread_key_t

    init() {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        self.key = key
    }

    /// The calling thread's value (nil when never set).
    var value: UnsafeMutableRawPointer? { pthread_getspecific(key) }

    /// The value as an integer (0 when never set).
    var integer: Int { Int(bitPattern: pthread_getspecific(key)) }

    /// Runs `body` with `value` set on the calling thread, then restores the previous one.
    @inline(__always)
    func with<T>(_ value: UnsafeRawPointer?, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, value)
        defer { pthread_setspecific(key, previous) }
        return try body()
    }
}
