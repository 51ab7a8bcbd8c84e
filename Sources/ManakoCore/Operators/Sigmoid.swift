/// 1 / (1 + exp(-x)), elementwise (ONNX Sigmoid).
public struct Sigmoid: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, SigmoidLanes.self)
    }
}

extension Sigmoid: ShapePreserving {}

/// `VectorMath.sigmoid` as a `LaneFunction`.
enum SigmoidLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.sigmoid(x) }
}
