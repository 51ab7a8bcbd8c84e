/// A tensor of the shape held in input 0, filled with `value` (ONNX ConstantOfShape).
public struct ConstantOfShape: Operator {
    public var value: Tensor

    public init(value: Tensor = Tensor(shape: [1], floats: [0])) { self.value = value }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let shape = try inputs.required(0, "input").int64s().map { Int($0) }
        let count = try ElementLimit.check(shape, "ConstantOfShape output")
        return [value.picking(Array(repeating: 0, count: count), shape: shape)]
    }
}
