/// Shared body of the comparison operators: broadcast, compare, produce bool.
public enum ElementwiseCompare {
    @inline(__always)
    public static func apply(_ inputs: [Tensor?], float: (Float, Float) -> Bool, integer: (Int64, Int64) -> Bool) throws -> [Tensor] {
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        let out: ([Bool], [Int])
        switch (a.storage, b.storage) {
        case (.float32(let x), .float32(let y)): out = try Broadcast.combine(x, a.shape, y, b.shape, float)
        case (.bool(let x), .bool(let y)): out = try Broadcast.combine(x, a.shape, y, b.shape) { integer($0 ? 1 : 0, $1 ? 1 : 0) }
        default:
            guard a.elementType != .float32, b.elementType != .float32 else {
                throw ManakoError(.shapeMismatch, "cannot compare \(a.elementType) with \(b.elementType)")
            }
            out = try Broadcast.combine(try a.int64s(), a.shape, try b.int64s(), b.shape, integer)
        }
        return [Tensor(shape: out.1, bools: out.0)]
    }
}
