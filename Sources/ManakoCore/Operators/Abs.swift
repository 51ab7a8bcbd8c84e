/// abs(x), elementwise (ONNX Abs).
public struct Abs: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, { abs($0) })
    }
}

extension Abs: ShapePreserving {}
