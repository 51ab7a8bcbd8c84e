/// Produces a fixed tensor (ONNX Constant).
public struct Constant: Operator {
    public var value: Tensor

    public init(_ value: Tensor) { self.value = value }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] { [value] }
}
