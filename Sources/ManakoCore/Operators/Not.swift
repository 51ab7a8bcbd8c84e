/// Logical negation (ONNX Not).
public struct Not: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard case .bool(let values) = x.storage else { throw ManakoError(.shapeMismatch, "Not needs a bool tensor, got \(x.elementType)") }
        return [Tensor(shape: x.shape, bools: values.map { !$0 })]
    }
}

extension Not: ShapePreserving {}
