/// Mean over `axes` (ONNX ReduceMean; torch's exporter writes adaptive average pooling this
/// way). Axes come from input 1 (opset 18+) or `staticAxes`; no axes means all of them,
/// unless `noopWithEmptyAxes`.
public struct ReduceMean: Operator {
    public var staticAxes: [Int]?
    public var keepDims: Bool
    public var noopWithEmptyAxes: Bool

    public init(axes: [Int]? = nil, keepDims: Bool = true, noopWithEmptyAxes: Bool = false) {
        self.staticAxes = axes
        self.keepDims = keepDims
        self.noopWithEmptyAxes = noopWithEmptyAxes
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        var axes = try inputs.optional(1).map { try $0.int64s().map { Int($0) } } ?? staticAxes ?? []
        if axes.isEmpty {
            if noopWithEmptyAxes { return [x] }
            axes = Array(0..<x.rank)
        }
        let reduced = Set(try axes.map { try normalizedAxis($0, rank: x.rank) })
        guard reduced.count == axes.count else { throw ManakoError(.invalidModel, "axes \(axes) repeat an axis") }
        let data = try x.floats()
        let outShape = x.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let outStrides = Tensor.strides(outShape)
        var sums = [Float](repeating: 0, count: outShape.reduce(1, *))
        // Walk the input once, adding each element to the output cell its kept coordinates name.
        var position = 0
        Tensor.forEachIndex(x.shape) { index in
            var target = 0
            for d in 0..<x.rank where !reduced.contains(d) { target += index[d] * outStrides[d] }
            sums[target] += data[position]
            position += 1
        }
        let count = reduced.reduce(1) { $0 * x.shape[$1] }
        let means = sums.map { count > 0 ? $0 / Float(count) : .nan }
        let finalShape = keepDims ? outShape : x.shape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        return [Tensor(shape: finalShape, floats: means)]
    }
}
