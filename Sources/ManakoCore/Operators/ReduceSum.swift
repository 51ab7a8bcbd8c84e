/// Sum over `axes` (ONNX ReduceSum; axes from input 1 since opset 13).
public struct ReduceSum: AxisReducing {
    public let reduceAxes: ReduceAxes
    public init(reduceAxes: ReduceAxes) { self.reduceAxes = reduceAxes }
    public func run(_ inputs: [Tensor?]) throws -> [Tensor] { try reduceAxes.run(inputs, kind: .sum) }
}
