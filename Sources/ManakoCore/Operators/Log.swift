/// Natural logarithm, elementwise (ONNX Log).
public struct Log: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, CMath.log)
    }
}

extension Log: ShapePreserving {}
