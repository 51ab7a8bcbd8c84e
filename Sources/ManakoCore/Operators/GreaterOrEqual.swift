/// a >= b with numpy broadcasting, as bool (ONNX GreaterOrEqual).
public struct GreaterOrEqual: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ElementwiseCompare.apply(inputs, float: { $0 >= $1 }, integer: { $0 >= $1 })
    }
}

extension GreaterOrEqual: ElementwiseBroadcasting {}
