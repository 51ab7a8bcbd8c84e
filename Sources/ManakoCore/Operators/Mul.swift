/// a * b with numpy broadcasting (ONNX Mul), float32 or integer.
public struct Mul: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try [ElementwiseBinary.apply(inputs.required(0, "A"), inputs.required(1, "B"), ElementwiseBinary.Multiplication.self, integer: &*)]
    }
}

extension Mul: ElementwiseBroadcasting {}
