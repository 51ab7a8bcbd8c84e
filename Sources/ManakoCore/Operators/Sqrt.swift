/// Square root, elementwise (ONNX Sqrt).
public struct Sqrt: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, SqrtLanes.self)
    }
}

extension Sqrt: ShapePreserving {}

/// `VectorMath.sqrt` as a `LaneFunction`.
enum SqrtLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.sqrt(x) }
}
