/// max(0, min(1, alpha * x + beta)), elementwise (ONNX HardSigmoid; MobileNetV3's gates).
public struct HardSigmoid: Operator {
    public var alpha: Float
    public var beta: Float

    public init(alpha: Float = 0.2, beta: Float = 0.5) {
        self.alpha = alpha
        self.beta = beta
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs) { max(0, min(1, alpha * $0 + beta)) }
    }
}

extension HardSigmoid: ShapePreserving {}
