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
}
