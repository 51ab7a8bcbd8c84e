/// 1 / (1 + exp(-x)), elementwise (ONNX Sigmoid).
public struct Sigmoid: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, { 1 / (1 + CMath.exp(-$0)) })
    }
}

extension Sigmoid: ShapePreserving {}
