/// x * max(0, min(1, x / 6 + 1 / 2)), elementwise (ONNX HardSwish; MobileNetV3).
public struct HardSwish: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, { $0 * max(0, min(1, $0 / 6 + 0.5)) })
    }
}

extension HardSwish: ShapePreserving {}
