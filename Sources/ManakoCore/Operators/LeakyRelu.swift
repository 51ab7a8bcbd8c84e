/// x for x >= 0, alpha * x otherwise (ONNX LeakyRelu).
public struct LeakyRelu: Operator {
    public var alpha: Float

    public init(alpha: Float = 0.01) { self.alpha = alpha }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs) { $0 >= 0 ? $0 : alpha * $0 }
    }
}

extension LeakyRelu: ShapePreserving {}
