/// Shared body of the broadcasting binary operators: dispatch on element type, then broadcast.
public enum ElementwiseBinary {
    @inline(__always)
    public static func apply(_ a: Tensor, _ b: Tensor, float: (Float, Float) -> Float,
                             integer: (Int64, Int64) -> Int64) throws -> Tensor {
        switch (a.storage, b.storage) {
        case (.float32(let x), .float32(let y)):
            let (out, shape) = try Broadcast.apply(x, a.shape, y, b.shape, float)
            return Tensor(shape: shape, floats: out)
        case (.int64, .int64), (.int32, .int32), (.int64, .int32), (.int32, .int64):
            let (out, shape) = try Broadcast.apply(try a.int64s(), a.shape, try b.int64s(), b.shape, integer)
            return Tensor(shape: shape, int64s: out)
        default:
            throw ManakoError(.shapeMismatch, "operands have different or unsupported types: \(a.elementType) and \(b.elementType)")
        }
    }

    /// Broadcasting like `apply(_:_:float:integer:)`, with float operands of one shape, or one
    /// of them a single number of no higher rank (a transformer's residual Add, a scalar Mul),
    /// in one vector pass where they are: no index map, no copy of an aligned operand, split
    /// across threads when large. The operation is a type so that the pass is specialised
    /// for it (a closure would be called per element).
    @inline(__always)
    public static func apply<Operation: DenseFloatOperation>(_ a: Tensor, _ b: Tensor, _ operation: Operation.Type,
                                                             integer: (Int64, Int64) -> Int64) throws -> Tensor {
        if let dense = try denseFloats(a, b, operation) { return dense }
        return try apply(a, b, float: Operation.apply, integer: integer)
    }

    static func denseFloats<Operation: DenseFloatOperation>(_ a: Tensor, _ b: Tensor, _: Operation.Type) throws -> Tensor? {
        guard a.elementType == .float32, b.elementType == .float32 else { return nil }
        let shape: [Int]
        if a.shape == b.shape || (b.count == 1 && b.rank <= a.rank) {
            shape = a.shape
        } else if a.count == 1 && a.rank <= b.rank {
            shape = b.shape
        } else {
            return nil
        }
        let (x, y) = (try a.floatValues(), try b.floatValues()), count = shape.reduce(1, *)
        guard x.count >= a.count && y.count >= b.count else { return nil }
        let (aCount, bCount) = (a.count, b.count)
        let out = BufferPool.floats(count) { out in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    let (xs, ys, target) = (xp.baseAddress!, yp.baseAddress!, out.baseAddress!)
                    Parallel.forEachPart(of: count, split: count >= Parallel.elementwiseThreshold) { part in
                        // A single number is read as a vector of it (offset 0, splatted).
                        if aCount == bCount {
                            pass(part, { load(xs, $0) }, { load(ys, $0) }, { xs[$0] }, { ys[$0] }, into: target, Operation.self)
                        } else if bCount == 1 {
                            let v = SIMD8<Float>(repeating: ys[0]), scalar = ys[0]
                            pass(part, { load(xs, $0) }, { _ in v }, { xs[$0] }, { _ in scalar }, into: target, Operation.self)
                        } else {
                            let v = SIMD8<Float>(repeating: xs[0]), scalar = xs[0]
                            pass(part, { _ in v }, { load(ys, $0) }, { _ in scalar }, { ys[$0] }, into: target, Operation.self)
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, floats: out)
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> { UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) }

    /// target[i] = operation(left(i), right(i)) over `part`, eight at a time, then one at a time.
    @inline(__always)
    static func pass<Operation: DenseFloatOperation>(_ part: Range<Int>, _ left: (Int) -> SIMD8<Float>, _ right: (Int) -> SIMD8<Float>,
                                                     _ leftOne: (Int) -> Float, _ rightOne: (Int) -> Float,
                                                     into target: UnsafeMutablePointer<Float>, _: Operation.Type) {
        var i = part.lowerBound
        while i + 8 <= part.upperBound {
            UnsafeMutableRawPointer(target + i).storeBytes(of: Operation.apply(left(i), right(i)), as: SIMD8<Float>.self)
            i += 8
        }
        while i < part.upperBound {
            target[i] = Operation.apply(leftOne(i), rightOne(i))
            i += 1
        }
    }
}

/// A float operation applied lane by lane (the same IEEE result one at a time or eight at a
/// time, so a dense pass gives the same bits however it is split).
public protocol DenseFloatOperation {
    static func apply(_ a: Float, _ b: Float) -> Float
    static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float>
}

extension ElementwiseBinary {
    public enum Addition: DenseFloatOperation {
        @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a + b }
        @inline(__always) public static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a + b }
    }

    public enum Subtraction: DenseFloatOperation {
        @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a - b }
        @inline(__always) public static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a - b }
    }

    public enum Multiplication: DenseFloatOperation {
        @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a * b }
        @inline(__always) public static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a * b }
    }

    public enum Division: DenseFloatOperation {
        @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a / b }
        @inline(__always) public static func apply(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a / b }
    }
}
