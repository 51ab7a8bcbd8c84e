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
        // Part p is the view starting at its first index along the axis, with the input's strides.
        let strides = Tensor.strides(x.shape), inner = strides[a]
        let offsets = sizes.reduce(into: [0]) { $0.append($0.last! + $1) }
        return sizes.indices.map { part in
            var shape = x.shape
            shape[a] = sizes[part]
            return x.view(offset: sizes[part] == 0 ? 0 : offsets[part] * inner, shape: shape, strides: strides)
        }
    }
}
