/// 1 / (1 + exp(-x)), elementwise (ONNX Sigmoid).
public struct Sigmoid: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, vector: VectorMath.sigmoid)
    }
}

extension Sigmoid: ShapePreserving {}
