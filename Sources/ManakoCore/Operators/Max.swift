/// Elementwise maximum of its inputs, broadcast (ONNX Max).
public struct Max: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try Variadic.fold(inputs, float: max, integer: max)
    }
}

extension Max: ElementwiseBroadcasting {}
