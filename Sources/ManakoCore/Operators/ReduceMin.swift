/// Smallest value over `axes` (ONNX ReduceMin; NaN if any is NaN; axes from input 1 since opset 18).
public struct ReduceMin: AxisReducing {
    public let reduceAxes: ReduceAxes
    public init(reduceAxes: ReduceAxes) { self.reduceAxes = reduceAxes }
    public func run(_ inputs: [Tensor?]) throws -> [Tensor] { try reduceAxes.run(inputs, kind: .min) }
}
