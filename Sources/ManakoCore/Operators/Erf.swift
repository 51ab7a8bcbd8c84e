/// The error function, elementwise (ONNX Erf; GELU exports use it).
public struct Erf: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, ErfLanes.self)
    }
}

extension Erf: ShapePreserving {}

/// `VectorMath.erf` as a `LaneFunction`.
enum ErfLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.erf(x) }
}
