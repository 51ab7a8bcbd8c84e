/// Largest value over `axes` (ONNX ReduceMax; NaN if any is NaN; axes from input 1 since opset 18).
public struct ReduceMax: AxisReducing {
    public let reduceAxes: ReduceAxes
    public init(reduceAxes: ReduceAxes) { self.reduceAxes = reduceAxes }
    public func run(_ inputs: [Tensor?]) throws -> [Tensor] { try reduceAxes.run(inputs, kind: .max) }
}
