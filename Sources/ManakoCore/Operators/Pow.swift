/// a ^ b with numpy broadcasting (ONNX Pow); float or integer base and exponent.
public struct Pow: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try inputs.required(0, "X"), b = try inputs.required(1, "Y")
        if a.elementType != .float32 {
            // Integer base: compute in float, then back to the base's type (ONNX: the result has X's type).
            let asFloat = try Cast(to: .float32).run([a])[0]
            let result = try run([asFloat, b])[0]
            return try Cast(to: a.elementType).run([Tensor(shape: result.shape, floats: try result.floats().map { $0.rounded() })])
        }
        let exponent = b.elementType == .float32 ? b : Tensor(shape: b.shape, floats: try b.int64s().map { Float($0) })
        if exponent.count == 1, exponent.rank <= a.rank, let e = try exponent.floats().first {
            // A scalar exponent (x^2 in decomposed LayerNorms): one pass, vectorised for 2.
            if e == 2 { return try ElementwiseUnary.apply([a], SquareLanes.self) }
            return try ElementwiseUnary.apply([a]) { CMath.pow($0, e) }
        }
        let (out, shape) = try Broadcast.apply(try a.floats(), a.shape, try exponent.floats(), exponent.shape) {
            $1 == 2 ? $0 * $0 : CMath.pow($0, $1)
        }
        return [Tensor(shape: shape, floats: out)]
    }
}

extension Pow: ElementwiseBroadcasting {}

/// x * x on eight lanes, as a `LaneFunction`.
enum SquareLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { x * x }
}
