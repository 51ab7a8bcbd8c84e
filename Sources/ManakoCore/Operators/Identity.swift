/// Passes its input through (ONNX Identity, and Dropout at inference, whose optional
/// second output is an all-true mask).
public struct Identity: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        return [x, Tensor(shape: x.shape, bools: Array(repeating: true, count: x.count))]
    }
}
