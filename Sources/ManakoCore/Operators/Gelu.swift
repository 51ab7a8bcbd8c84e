/// Gaussian error linear unit (ONNX Gelu, opset 20): x * Phi(x), or its tanh approximation.
public struct Gelu: Operator {
    public var tanhApproximation: Bool

    public init(tanhApproximation: Bool = false) { self.tanhApproximation = tanhApproximation }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        if tanhApproximation {
            return try ElementwiseUnary.apply(inputs) {
                0.5 * $0 * (1 + CMath.tanh(0.7978845608028654 * ($0 + 0.044715 * $0 * $0 * $0)))
            }
        }
        return try ElementwiseUnary.apply(inputs, GeluLanes.self)
    }
}

extension Gelu: ShapePreserving {}

/// `VectorMath.gelu` as a `LaneFunction`.
enum GeluLanes: LaneFunction {
    @inline(__always) static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> { VectorMath.gelu(x) }
}
