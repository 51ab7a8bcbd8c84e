/// -x, elementwise (ONNX Neg).
public struct Neg: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, { -$0 })
    }
}

extension Neg: ShapePreserving {}
