/// Broadcasts the input to the shape in input 1, numpy style (ONNX Expand). Any element type.
public struct Expand: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let requested = try inputs.required(1, "shape").int64s().map { Int($0) }
        let shape = try Broadcast.shape(x.shape, requested)
        try ElementLimit.check(shape, "Expand output")
        return [x.broadcast(to: shape)]
    }
}
