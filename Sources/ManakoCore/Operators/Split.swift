/// Splits along `axis` into parts of the sizes in input 1 (opset 13+) or `staticSplit`, or
/// into `outputCount` near-equal parts (ONNX Split). Any element type.
public struct Split: Operator {
    public var axis: Int
    public var staticSplit: [Int]?
    public var outputCount: Int

    public init(axis: Int = 0, split: [Int]? = nil, outputCount: Int) {
        self.axis = axis
        self.staticSplit = split
        self.outputCount = outputCount
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let a = try normalizedAxis(axis, rank: x.rank)
        let n = x.shape[a]
        var sizes = try inputs.optional(1).map { try $0.int64s().map { Int($0) } } ?? staticSplit ?? []
        if sizes.isEmpty {
            guard outputCount > 0 else { throw ManakoError(.invalidModel, "Split has no outputs") }
            let chunk = (n + outputCount - 1) / outputCount
            sizes = (0..<outputCount).map { max(0, min(chunk, n - $0 * chunk)) }
        }
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == n else {
            throw ManakoError(.shapeMismatch, "split sizes \(sizes) do not add up to \(n)")
        }
        // Each part is `outer` contiguous blocks of size * inner elements.
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *)
        let offsets = sizes.reduce(into: [0]) { $0.append($0.last! + $1) }
        func blocks<T>(_ values: [T], _ part: Int) -> [T] {
            var out: [T] = []
            out.reserveCapacity(outer * sizes[part] * inner)
            for o in 0..<outer {
                let begin = (o * n + offsets[part]) * inner
                out.append(contentsOf: values[begin..<(begin + sizes[part] * inner)])
            }
            return out
        }
        return sizes.indices.map { part in
            var shape = x.shape
            shape[a] = sizes[part]
            var result = x
            switch x.storage {
            case .float32(let v): result = Tensor(shape: shape, floats: blocks(v, part))
            case .int64(let v): result = Tensor(shape: shape, int64s: blocks(v, part))
            case .int32(let v): result = (try? Tensor(shape: shape, storage: .int32(blocks(v, part)))) ?? result
            case .bool(let v): result = Tensor(shape: shape, bools: blocks(v, part))
            }
            return result
        }
    }
}
