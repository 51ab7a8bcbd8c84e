extension Array {
    /// `Array(unsafeUninitializedCapacity:initializingWith:)`, except that a capacity of 0 gives
    /// an empty array without calling `body`: with no capacity, the standard initializer writes
    /// the count into the storage all empty arrays share, a data race between threads that make
    /// empty arrays at once (an empty model file, an empty Gather, ThreadSanitizer's report).
    @inline(__always)
    static func uninitialized(capacity: Int, _ body: (inout UnsafeMutableBufferPointer<Element>, inout Int) throws -> Void) rethrows -> [Element] {
        if capacity == 0 { return [] }
        return try Array(unsafeUninitializedCapacity: capacity, initializingWith: body)
    }
}
