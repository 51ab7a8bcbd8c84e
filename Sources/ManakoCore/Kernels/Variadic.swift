/// Shared body of Max, Min and Sum: fold the inputs left to right with broadcasting.
public enum Variadic {
    @inline(__always)
    public static func fold(_ inputs: [Tensor?], float: (Float, Float) -> Float, integer: (Int64, Int64) -> Int64) throws -> [Tensor] {
        let present = inputs.compactMap { $0 }
        guard var result = present.first else { throw ManakoError(.invalidModel, "needs at least one input") }
        for next in present.dropFirst() { result = try ElementwiseBinary.apply(result, next, float: float, integer: integer) }
        return [result]
    }
}
