/// Elementwise minimum of its inputs, broadcast (ONNX Min).
public struct Min: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try Variadic.fold(inputs, float: min, integer: min)
    }
}

extension Min: ElementwiseBroadcasting {}
