/// max(x, 0), elementwise (ONNX Relu).
public struct Relu: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, ReluLanes.self)
    }
}

extension Relu: ShapePreserving {}

/// max(x, 0) on eight lanes, NaN kept, as a `LaneFunction`.
enum ReluLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { x.replacing(with: 0, where: .!(x .> 0)) }
}
