/// Passes its input through (ONNX Identity, and Dropout at inference). With `producesMask`,
/// a second output holds Dropout's all-true mask.
public struct Identity: Operator {
    public var producesMask: Bool

    public init(producesMask: Bool = false) { self.producesMask = producesMask }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        guard producesMask else { return [x] }
        return [x, Tensor(shape: x.shape, bools: Array(repeating: true, count: x.count))]
    }
}

extension Identity: ShapePreserving {}
