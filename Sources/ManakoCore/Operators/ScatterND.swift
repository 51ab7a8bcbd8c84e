/// Writes `updates` into a copy of `data` at the index tuples in `indices` (ONNX ScatterND):
/// indices [..., k] address slices data[i0, ..., ik-1, :]; `reduction` combines with what is there.
public struct ScatterND: Operator {
    public enum Reduction: String, Sendable { case none, add, mul, max, min }

    public var reduction: Reduction

    public init(reduction: Reduction = .none) { self.reduction = reduction }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let data = try inputs.required(0, "data"), indicesTensor = try inputs.required(1, "indices"), updates = try inputs.required(2, "updates")
        guard let k = indicesTensor.shape.last, k <= data.rank, indicesTensor.rank >= 1 else {
            throw ManakoError(.shapeMismatch, "indices \(indicesTensor.shape) do not fit data \(data.shape)")
        }
        let expectedUpdates = Array(indicesTensor.shape.dropLast()) + Array(data.shape[k...])
        guard updates.shape == expectedUpdates, updates.elementType == data.elementType else {
            throw ManakoError(.shapeMismatch, "updates \(updates.shape) must have shape \(expectedUpdates) and data's type")
        }
        let indices = try indicesTensor.int64s()
        let slice = data.shape[k...].reduce(1, *)
        let strides = Tensor.strides(data.shape)
        // Flat destination of each update element.
        var targets: [Int] = []
        targets.reserveCapacity(updates.count)
        for tuple in 0..<(indices.count / max(k, 1) + (k == 0 ? 1 : 0)) where k > 0 || tuple == 0 {
            var base = 0
            for d in 0..<k {
                var i = Int(indices[tuple * k + d])
                if i < 0 { i += data.shape[d] }
                guard i >= 0, i < data.shape[d] else { throw ManakoError(.shapeMismatch, "index \(indices[tuple * k + d]) is out of range for axis \(d) of \(data.shape)") }
                base += i * strides[d]
            }
            for j in 0..<slice { targets.append(base + j) }
        }
        func scatter<T>(_ values: [T], _ updates: [T], _ combine: (T, T) -> T) -> [T] {
            var out = values
            for (n, t) in targets.enumerated() { out[t] = combine(out[t], updates[n]) }
            return out
        }
        switch (data.storage, updates.storage) {
        case (.float32(let d), .float32(let u)):
            let f: (Float, Float) -> Float = reduction == .add ? (+) : reduction == .mul ? (*) : reduction == .max ? { Swift.max($0, $1) } : reduction == .min ? { Swift.min($0, $1) } : { $1 }
            return [Tensor(shape: data.shape, floats: scatter(d, u, f))]
        case (.int64(let d), .int64(let u)):
            let f: (Int64, Int64) -> Int64 = reduction == .add ? (&+) : reduction == .mul ? (&*) : reduction == .max ? { Swift.max($0, $1) } : reduction == .min ? { Swift.min($0, $1) } : { $1 }
            return [Tensor(shape: data.shape, int64s: scatter(d, u, f))]
        case (.bool(let d), .bool(let u)):
            return [Tensor(shape: data.shape, bools: scatter(d, u) { $1 })]
        default:
            throw ManakoError(.shapeMismatch, "ScatterND on \(data.elementType) is not supported")
        }
    }
}
