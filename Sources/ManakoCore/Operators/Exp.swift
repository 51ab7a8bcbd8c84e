/// e^x, elementwise (ONNX Exp).
public struct Exp: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, ExpLanes.self)
    }
}

extension Exp: ShapePreserving {}

/// `VectorMath.exp` as a `LaneFunction`.
enum ExpLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.exp(x) }
}
