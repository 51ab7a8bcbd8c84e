/// Elementwise sum of its inputs, broadcast (ONNX Sum).
public struct Sum: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try Variadic.fold(inputs, float: +, integer: &+)
    }
}

extension Sum: ElementwiseBroadcasting {}
