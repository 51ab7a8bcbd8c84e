/// Bounds on what a model file and its inputs may make Manako read, allocate or build. Every
/// check happens before the allocation or the open it guards, so a hostile file gets a
/// `limitExceeded` error naming the value, never an out-of-memory kill.
public struct ResourceLimits: Sendable, Equatable {
    /// Largest model file, and largest external-data file, read (bytes).
    public var maxFileBytes: Int
    /// Largest tensor: an initializer, a graph input, or any value a node computes (elements).
    public var maxTensorElements: Int
    /// Total size of all initializers once decoded (bytes).
    public var maxWeightBytes: Int
    /// Most nodes a graph may have.
    public var maxNodes: Int

    /// The defaults: a 4 GiB file, 2^28 elements (1 GiB of floats) per tensor, 4 GiB of weights,
    /// 100,000 nodes. Real classifiers stay far inside: VGG-19's largest tensor is 103 M weights,
    /// the largest exported transformers have about 20,000 nodes.
    public static let defaults = ResourceLimits()

    public init(maxFileBytes: Int = 4 << 30, maxTensorElements: Int = 1 << 28,
                maxWeightBytes: Int = 4 << 30, maxNodes: Int = 100_000) {
        self.maxFileBytes = maxFileBytes
        self.maxTensorElements = maxTensorElements
        self.maxWeightBytes = maxWeightBytes
        self.maxNodes = maxNodes
    }

    /// Throws `invalidArgument` unless every limit is at least 1.
    public func validate() throws {
        for (name, value) in [("maxFileBytes", maxFileBytes), ("maxTensorElements", maxTensorElements),
                              ("maxWeightBytes", maxWeightBytes), ("maxNodes", maxNodes)] where value < 1 {
            throw ManakoError(.invalidArgument, "limit \(name) must be at least 1, got \(value)")
        }
    }
}

/// The element limit in force on the calling thread: a graph run or a model load sets it, so
/// operators check the sizes they compute from data (Expand, Range, broadcasting, MatMul...)
/// against the model's own limit without carrying it through every call.
public enum ElementLimit {
    static let slot = ThreadLocalWord()

    /// The calling thread's limit: the innermost `with`, or the default outside any.
    public static var current: Int {
        let limit = slot.integer
        return limit > 0 ? limit : ResourceLimits.defaults.maxTensorElements
    }

    /// Runs `body` with `limit` in force on the calling thread.
    public static func with<T>(_ limit: Int, _ body: () throws -> T) rethrows -> T {
        try slot.with(UnsafeRawPointer(bitPattern: max(1, limit)), body)
    }

    /// The element count of `shape`, or `limitExceeded` (naming `what`) when it is negative,
    /// overflows, or exceeds the limit in force.
    @discardableResult
    public static func check(_ shape: [Int], _ what: @autoclosure () -> String = "tensor") throws -> Int {
        let limit = current
        guard let count = Tensor.elementCount(shape) else {
            throw ManakoError(.limitExceeded, "\(what()) of shape \(shape) is invalid (negative or overflowing)")
        }
        guard count <= limit else {
            throw ManakoError(.limitExceeded, "\(what()) of shape \(shape) has \(count) elements, over the limit of \(limit) (maxTensorElements)")
        }
        return count
    }
}
