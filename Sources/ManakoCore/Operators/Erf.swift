/// The error function, elementwise (ONNX Erf; GELU exports use it).
public struct Erf: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseUnary.apply(inputs, vector: VectorMath.erf)
    }
}

extension Erf: ShapePreserving {}
