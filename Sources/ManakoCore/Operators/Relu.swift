/// max(x, 0), elementwise (ONNX Relu).
public struct Relu: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        return [Tensor(shape: x.shape, floats: try x.floats().map { $0 > 0 ? $0 : 0 })]
    }
}

extension Relu: ShapePreserving {}
