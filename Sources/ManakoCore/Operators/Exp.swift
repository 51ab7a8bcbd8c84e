/// e^x, elementwise (ONNX Exp).
public struct Exp: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, vector: VectorMath.exp)
    }
}

extension Exp: ShapePreserving {}
