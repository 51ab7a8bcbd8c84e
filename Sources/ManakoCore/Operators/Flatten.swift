/// Reshapes to 2-D [prod(dims[..<axis]), prod(dims[axis...])] (ONNX Flatten).
public struct Flatten: Operator {
    public var axis: Int

    public init(axis: Int = 1) { self.axis = axis }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let a = try normalizedAxis(axis, rank: x.rank, allowEnd: true)
        let outer = x.shape[..<a].reduce(1, *)
        return [try x.reshaped([outer, x.shape[a...].reduce(1, *)])]
    }
}

extension Flatten {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let x = inputs.first??.shape else { return nil }
        let a = try normalizedAxis(axis, rank: x.count, allowEnd: true)
        func product(_ dims: ArraySlice<Int?>) -> Int? { dims.allSatisfy { $0 != nil } ? dims.reduce(1) { $0 * $1! } : nil }
        return [[product(x[..<a]), product(x[a...])]]
    }
}
