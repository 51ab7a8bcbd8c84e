/// a + b with numpy broadcasting (ONNX Add), float32 or integer.
public struct Add: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try [ElementwiseBinary.apply(inputs.required(0, "A"), inputs.required(1, "B"), ElementwiseBinary.Addition.self, integer: &+)]
    }
}

extension Add: ElementwiseBroadcasting {}
