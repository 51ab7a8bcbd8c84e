/// Strided slices (ONNX Slice): starts, ends, axes and steps from inputs 1-4 (opset 10+) or
/// from `staticStarts`/`staticEnds`/`staticAxes` (opset 1-9). Bounds clamp as numpy's do.
public struct StridedSlice: Operator {
    public var staticStarts: [Int]?
    public var staticEnds: [Int]?
    public var staticAxes: [Int]?

    public init(starts: [Int]? = nil, ends: [Int]? = nil, axes: [Int]? = nil) {
        staticStarts = starts
        staticEnds = ends
        staticAxes = axes
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        func list(_ i: Int, _ fallback: [Int]?) throws -> [Int]? {
            try inputs.optional(i).map { try $0.int64s().map { Int(clamping: $0) } } ?? fallback
        }
        guard let starts = try list(1, staticStarts), let ends = try list(2, staticEnds) else {
            throw ManakoError(.invalidModel, "Slice needs starts and ends")
        }
        let axes = try (try list(3, staticAxes) ?? Array(0..<starts.count)).map { try normalizedAxis($0, rank: x.rank) }
        let steps = try list(4, nil) ?? Array(repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
            throw ManakoError(.invalidModel, "starts, ends, axes and steps differ in length")
        }
        var begin = [Int](repeating: 0, count: x.rank), step = [Int](repeating: 1, count: x.rank), outShape = x.shape
        for (k, a) in axes.enumerated() {
            let n = x.shape[a], s = steps[k]
            guard s != 0 else { throw ManakoError(.invalidModel, "Slice step is 0") }
            var lo = starts[k] < 0 ? starts[k] + n : starts[k]
            var hi = ends[k] < 0 ? ends[k] + n : ends[k]
            if s > 0 {
                lo = min(max(lo, 0), n)
                hi = min(max(hi, 0), n)
                outShape[a] = hi > lo ? (hi - lo + s - 1) / s : 0
            } else {
                lo = min(max(lo, -1), n - 1)
                hi = min(max(hi, -1), n - 1)
                outShape[a] = lo > hi ? (lo - hi - s - 1) / -s : 0
            }
            begin[a] = lo
            step[a] = s
        }
        let strides = Tensor.strides(x.shape)
        let offset = outShape.contains(0) ? 0 : zip(begin, strides).reduce(0) { $0 + $1.0 * $1.1 }
        return [x.view(offset: offset, shape: outShape, strides: zip(strides, step).map { $0 * $1 })]
    }
}
