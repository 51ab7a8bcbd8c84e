/// Reshape to the shape held in input 1 (ONNX Reshape): 0 copies the input's dimension unless
/// `allowZero`, and one -1 is inferred from the element count.
public struct Reshape: Operator {
    public var allowZero: Bool

    public init(allowZero: Bool = false) { self.allowZero = allowZero }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let requested = try inputs.required(1, "shape").int64s()
        return [try x.reshaped(Reshape.resolve(requested.map { Int($0) }, input: x.shape, allowZero: allowZero))]
    }

    /// The concrete shape for a requested one, or an error naming both.
    public static func resolve(_ requested: [Int], input: [Int], allowZero: Bool) throws -> [Int] {
        var shape = requested
        var inferred: Int? = nil
        for (i, d) in requested.enumerated() {
            if d == 0 && !allowZero {
                guard i < input.count else {
                    throw ManakoError(.shapeMismatch, "shape \(requested) copies dimension \(i), which input \(input) lacks")
                }
                shape[i] = input[i]
            } else if d == -1 {
                guard inferred == nil else { throw ManakoError(.shapeMismatch, "shape \(requested) has more than one -1") }
                inferred = i
            } else if d < 0 {
                throw ManakoError(.shapeMismatch, "shape \(requested) has a negative dimension")
            }
        }
        let total = input.reduce(1, *)
        if let i = inferred {
            shape[i] = 1
            let known = shape.reduce(1, *)
            guard known > 0, total % known == 0 else {
                throw ManakoError(.shapeMismatch, "cannot reshape \(input) to \(requested)")
            }
            shape[i] = total / known
        }
        guard Tensor.elementCount(shape) == total else {
            throw ManakoError(.shapeMismatch, "cannot reshape \(input) (\(total) elements) to \(requested)")
        }
        return shape
    }
}

extension Reshape {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard inputs.count > 1, let requested = try inputs[1]?.constant?.int64s().map({ Int($0) }) else { return nil }
        guard let x = inputs[0]?.shape else { return [requested.map { $0 >= 0 && ($0 != 0 || allowZero) ? $0 : nil }] }
        if let concrete = inputs[0]?.concreteShape { return [try Reshape.resolve(requested, input: concrete, allowZero: allowZero).map { $0 }] }
        // Unknown input dimensions: 0 copies them, -1 stays unknown.
        return [requested.enumerated().map { i, d in d == 0 && !allowZero ? (i < x.count ? x[i] : nil) : (d < 0 ? nil : d) }]
    }
}
