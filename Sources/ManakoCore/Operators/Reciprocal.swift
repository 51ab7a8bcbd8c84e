/// 1 / x, elementwise (ONNX Reciprocal).
public struct Reciprocal: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, { 1 / $0 })
    }
}

extension Reciprocal: ShapePreserving {}
