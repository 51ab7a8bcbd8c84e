/// a - b with numpy broadcasting (ONNX Sub), float32 or integer.
public struct Sub: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try [ElementwiseBinary.apply(inputs.required(0, "A"), inputs.required(1, "B"), ElementwiseBinary.Subtraction.self, integer: &-)]
    }
}

extension Sub: ElementwiseBroadcasting {}
