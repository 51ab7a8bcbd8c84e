/// Mean over all spatial axes (ONNX GlobalAveragePool): [N, C, ...] to [N, C, 1, ...].
public struct GlobalAveragePool: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank >= 3 else { throw ManakoError(.shapeMismatch, "expected rank 3 or more, got \(x.shape)") }
        let planes = x.shape[0] * x.shape[1]
        let size = x.shape.dropFirst(2).reduce(1, *)
        let data = try x.floatValues()  // read in place: a caller's input or a pooled buffer is not copied
        var out = [Float](repeating: 0, count: planes)
        data.withUnsafeBufferPointer { xb in
            for p in 0..<planes { out[p] = size > 0 ? VectorMath.sum(xb.baseAddress! + p * size, count: size) / Float(size) : 0 }
        }
        return [Tensor(shape: [x.shape[0], x.shape[1]] + Array(repeating: 1, count: x.rank - 2), floats: out)]
    }
}

extension GlobalAveragePool {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let x = inputs.first??.shape, x.count >= 3 else { return nil }
        return [[x[0], x[1]] + Array(repeating: 1, count: x.count - 2)]
    }
}
