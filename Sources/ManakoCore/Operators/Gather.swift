/// Takes slices along `axis` at the given indices (ONNX Gather); negative indices count from
/// the end. Any element type.
public struct Gather: Operator {
    public var axis: Int

    public init(axis: Int = 0) { self.axis = axis }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let data = try inputs.required(0, "data"), indicesTensor = try inputs.required(1, "indices")
        let a = try normalizedAxis(axis, rank: data.rank)
        let size = data.shape[a]
        let indices = try indicesTensor.int64s().map { i -> Int in
            let j = Int(i) < 0 ? Int(i) + size : Int(i)
            guard j >= 0, j < size else { throw ManakoError(.shapeMismatch, "index \(i) is out of range for axis \(axis) of size \(size)") }
            return j
        }
        let shape = Array(data.shape[..<a]) + indicesTensor.shape + Array(data.shape[(a + 1)...])
        try ElementLimit.check(shape, "Gather output")
        let outer = data.shape[..<a].reduce(1, *), inner = data.shape[(a + 1)...].reduce(1, *)
        // Viewed as [outer, indices, inner]: one block of `inner` elements per (outer, index).
        func gathered<T>(_ values: [T]) -> [T] {
            let total = outer * indices.count * inner
            if total == 0 { return [] }
            return [T].uninitialized(capacity: total) { out, initialized in
                values.withUnsafeBufferPointer { source in
                    var target = out.baseAddress!
                    for o in 0..<outer {
                        for j in indices {
                            target.initialize(from: source.baseAddress! + (o * size + j) * inner, count: inner)
                            target += inner
                        }
                    }
                }
                initialized = total
            }
        }
        switch data.storage {
        case .float32(let v): return [Tensor(shape: shape, floats: gathered(v))]
        case .int64(let v): return [Tensor(shape: shape, int64s: gathered(v))]
        case .int32(let v): return [try Tensor(shape: shape, storage: .int32(gathered(v)))]
        case .bool(let v): return [Tensor(shape: shape, bools: gathered(v))]
        }
    }
}
