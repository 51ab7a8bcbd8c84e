/// Element types the core computes with. ONNX's others are converted at import.
public enum ElementType: String, Sendable, CustomStringConvertible {
    case float32, int64, int32, bool

    public var description: String { rawValue }
}

/// A dense, row-major (C-order) tensor with value semantics.
///
/// Storage is a Swift array per element type; copies are copy-on-write, so
/// passing tensors between nodes costs nothing until someone writes. The channel-blocked
/// kernels' float outputs live instead in 64-byte-aligned memory (`Tensor(shape:aligned:)`),
/// never written once the tensor exists; `floatValues()` reads either form in place, while
/// `storage` and `floats()` give an aligned tensor's elements as a copied array.
public struct Tensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case float32([Float])
        case int64([Int64])
        case int32([Int32])
        case bool([Bool])
    }

    /// Where the elements live.
    private enum Elements: Sendable {
        case storage(Storage)
        case aligned(AlignedFloats)
    }

    public private(set) var shape: [Int]
    private var elements: Elements

    /// The elements as arrays (an aligned tensor's floats copied).
    public var storage: Storage {
        switch elements {
        case .storage(let storage): return storage
        case .aligned(let floats): return .float32(floats.array)
        }
    }

    /// Checked initialiser: the element count must match the shape.
    public init(shape: [Int], storage: Storage) throws {
        guard let count = Tensor.elementCount(shape) else {
            throw ManakoError(.shapeMismatch, "invalid shape \(shape)")
        }
        let actual: Int
        switch storage {
        case .float32(let a): actual = a.count
        case .int64(let a): actual = a.count
        case .int32(let a): actual = a.count
        case .bool(let a): actual = a.count
        }
        guard actual == count else {
            throw ManakoError(.shapeMismatch, "shape \(shape) holds \(count) elements but \(actual) were given")
        }
        self.shape = shape
        self.elements = .storage(storage)
    }

    /// Unchecked initialisers for kernels, which compute the count themselves.
    public init(shape: [Int], floats: [Float]) {
        self.shape = shape
        self.elements = .storage(.float32(floats))
    }

    /// Floats on 64-byte lines, from `BufferPool.alignedFloats`; nobody writes them afterwards.
    public init(shape: [Int], aligned: AlignedFloats) {
        self.shape = shape
        self.elements = .aligned(aligned)
    }

    public init(shape: [Int], int64s: [Int64]) {
        self.shape = shape
        self.elements = .storage(.int64(int64s))
    }

    public init(shape: [Int], bools: [Bool]) {
        self.shape = shape
        self.elements = .storage(.bool(bools))
    }

    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && lhs.storage == rhs.storage
    }

    public init(scalar: Float) { self.init(shape: [], floats: [scalar]) }

    public var elementType: ElementType {
        guard case .storage(let storage) = elements else { return .float32 }
        switch storage {
        case .float32: return .float32
        case .int64: return .int64
        case .int32: return .int32
        case .bool: return .bool
        }
    }

    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }

    /// The float32 elements; an error for any other type.
    public func floats() throws -> [Float] {
        if case .float32(let a) = storage { return a }
        throw ManakoError(.invalidModel, "expected a float32 tensor, got \(elementType)")
    }

    /// The float32 elements where they are, array or aligned, with no copy; an error for any
    /// other type.
    public func floatValues() throws -> FloatValues {
        switch elements {
        case .aligned(let floats): return .aligned(floats)
        case .storage(.float32(let a)): return .array(a)
        default: throw ManakoError(.invalidModel, "expected a float32 tensor, got \(elementType)")
        }
    }

    /// Gives a float buffer this tensor holds to `pool`, for a later node or run to overwrite
    /// once no tensor holds it any more.
    func recycle(into pool: BufferPool) {
        switch elements {
        case .storage(.float32(let a)): pool.give(a)
        case .aligned(let floats): pool.give(floats)
        default: break
        }
    }

    /// Whether this tensor's elements are `other`'s aligned buffer itself (an output written
    /// over its input).
    func sharesAlignedBuffer(with other: Tensor) -> Bool {
        guard case .aligned(let mine) = elements, case .aligned(let theirs) = other.elements else { return false }
        return mine === theirs
    }

    /// Whether the elements are an owned aligned buffer that no other reference holds (so a
    /// kernel may write over it once this tensor is dead).
    mutating func ownsBufferAlone() -> Bool {
        guard case .aligned(var floats) = elements else { return false }
        // Our own reference moves into `floats` for the check, then back.
        elements = .storage(.float32([]))
        defer { elements = .aligned(floats) }
        return floats.owned && isKnownUniquelyReferenced(&floats)
    }

    /// Integer elements widened to Int64 (accepts int64 and int32).
    public func int64s() throws -> [Int64] {
        switch storage {
        case .int64(let a): return a
        case .int32(let a): return a.map(Int64.init)
        default: throw ManakoError(.invalidModel, "expected an integer tensor, got \(elementType)")
        }
    }

    /// The same elements viewed with another shape of equal count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard Tensor.elementCount(newShape) == count else {
            throw ManakoError(.shapeMismatch, "cannot reshape \(shape) to \(newShape)")
        }
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Product of the dimensions, or nil when one is negative or the product overflows.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var total = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            total = p
        }
        return total
    }

    /// Row-major strides of `shape`.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= shape[i]
        }
        return strides
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor<\(elementType)>\(shape)" }
}

/// Normalises a possibly negative axis (counted from `rank`) or throws naming it.
/// `allowEnd` also accepts `rank` itself (Flatten's axis lies in [-rank, rank]).
public func normalizedAxis(_ axis: Int, rank: Int, allowEnd: Bool = false) throws -> Int {
    let limit = allowEnd ? rank + 1 : rank
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0, a < limit else {
        throw ManakoError(.invalidModel, "axis \(axis) is out of range for rank \(rank)")
    }
    return a
}

extension Tensor {
    /// The elements at `flatIndices`, in that order, as a tensor of `shape` (any element type).
    /// Shared by the data-movement operators (Transpose, Gather, Slice, Expand, Split).
    public func picking(_ flatIndices: [Int], shape newShape: [Int]) -> Tensor {
        var copy = self
        copy.shape = newShape
        switch storage {
        case .float32(let a): copy.elements = .storage(.float32(flatIndices.map { a[$0] }))
        case .int64(let a): copy.elements = .storage(.int64(flatIndices.map { a[$0] }))
        case .int32(let a): copy.elements = .storage(.int32(flatIndices.map { a[$0] }))
        case .bool(let a): copy.elements = .storage(.bool(flatIndices.map { a[$0] }))
        }
        return copy
    }

    /// A scalar or one-element tensor as an Int (for shape-like inputs).
    public func scalarInt() throws -> Int {
        let values = elementType == .float32 ? try floats().map { Int64($0) } : try int64s()
        guard values.count == 1 else { throw ManakoError(.shapeMismatch, "expected a single value, got shape \(shape)") }
        return Int(values[0])
    }

    /// Calls `body` with the multi-index of every element of `shape`, in row-major order.
    public static func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        var index = [Int](repeating: 0, count: shape.count)
        for _ in 0..<total {
            body(index)
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
}

/// A float tensor's elements in place: a Swift array, or 64-byte-aligned memory.
public enum FloatValues: ContiguousFloats {
    case array([Float])
    case aligned(AlignedFloats)

    public var count: Int {
        switch self {
        case .array(let a): return a.count
        case .aligned(let floats): return floats.count
        }
    }

    /// The elements, valid during the call.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch self {
        case .array(let a): return try a.withUnsafeBufferPointer(body)
        case .aligned(let floats): return try floats.withUnsafeBufferPointer(body)
        }
    }
}

/// Floats in one contiguous block that a kernel reads through a pointer.
public protocol ContiguousFloats {
    /// Calls `body` with the elements, valid during the call.
    func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R
}

extension FloatValues {
    public func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R { withUnsafeBufferPointer(body) }
}

extension Array: ContiguousFloats where Element == Float {
    public func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R { withUnsafeBufferPointer(body) }
}
