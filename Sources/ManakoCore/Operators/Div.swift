/// a / b (integers truncate toward zero) with numpy broadcasting (ONNX Div), float32 or integer.
public struct Div: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try [ElementwiseBinary.apply(inputs.required(0, "A"), inputs.required(1, "B"), ElementwiseBinary.Division.self, integer: { $1 == 0 ? 0 : $0.dividedReportingOverflow(by: $1).partialValue })]
    }
}

extension Div: ElementwiseBroadcasting {}
