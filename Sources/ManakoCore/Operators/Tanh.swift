/// tanh(x), elementwise (ONNX Tanh).
public struct Tanh: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, TanhLanes.self)
    }
}

extension Tanh: ShapePreserving {}

/// `VectorMath.tanh` as a `LaneFunction`.
enum TanhLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.tanh(x) }
}
