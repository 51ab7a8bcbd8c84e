/// max(x, 0), elementwise (ONNX Relu).
public struct Relu: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, vector: { $0.replacing(with: 0, where: .!($0 .> 0)) })
    }
}

extension Relu: ShapePreserving {}
