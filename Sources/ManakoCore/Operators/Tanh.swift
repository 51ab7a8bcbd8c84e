/// tanh(x), elementwise (ONNX Tanh).
public struct Tanh: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, vector: VectorMath.tanh)
    }
}

extension Tanh: ShapePreserving {}
