/// Square root, elementwise (ONNX Sqrt).
public struct Sqrt: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, vector: VectorMath.sqrt)
    }
}

extension Sqrt: ShapePreserving {}
