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
        var flat: [Int] = []
        flat.reserveCapacity(outer * indices.count * inner)
        for o in 0..<outer {
            for j in indices {
                let base = (o * size + j) * inner
                for i in 0..<inner { flat.append(base + i) }
            }
        }
        return [data.picking(flat, shape: shape)]
    }
}
