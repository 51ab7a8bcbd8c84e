/// Mean over `axes` (ONNX ReduceMean; torch's exporter writes adaptive average pooling and
/// decomposed LayerNorms this way). Axes come from input 1 (opset 18+) or `staticAxes`; no axes
/// means all of them, unless `noopWithEmptyAxes`.
public struct ReduceMean: AxisReducing {
    public let reduceAxes: ReduceAxes

    public init(reduceAxes: ReduceAxes) { self.reduceAxes = reduceAxes }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try reduceAxes.run(inputs, kind: .sum) { sums, count in
            let scale = count > 0 ? 1 / Float(count) : .nan
            return sums.map { $0 * scale }
        }
    }
}

/// The Reduce operators: their attributes live in one `ReduceAxes`.
public protocol AxisReducing: Operator {
    var reduceAxes: ReduceAxes { get }
    init(reduceAxes: ReduceAxes)
}

extension AxisReducing {
    public init(axes: [Int]? = nil, keepDims: Bool = true, noopWithEmptyAxes: Bool = false) {
        self.init(reduceAxes: ReduceAxes(staticAxes: axes, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes))
    }

    public var staticAxes: [Int]? { reduceAxes.staticAxes }
    public var keepDims: Bool { reduceAxes.keepDims }
}

/// The axes handling shared by the Reduce operators: which axes, the output's shape with or
/// without them, and the reduction itself (`Reduction`).
public struct ReduceAxes: Sendable {
    public var staticAxes: [Int]?
    public var keepDims: Bool
    public var noopWithEmptyAxes: Bool

    /// Reduces input 0 with `kind`, then `finish(results, elements per result)`.
    func run(_ inputs: [Tensor?], kind: Reduction.Kind, finish: ([Float], Int) -> [Float] = { values, _ in values }) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        var axes = try inputs.optional(1).map { try $0.int64s().map { Int($0) } } ?? staticAxes ?? []
        if axes.isEmpty {
            if noopWithEmptyAxes { return [x] }
            axes = Array(0..<x.rank)
        }
        let reduced = Set(try axes.map { try normalizedAxis($0, rank: x.rank) })
        guard reduced.count == axes.count else { throw ManakoError(.invalidModel, "axes \(axes) repeat an axis") }
        // Bool inputs (ReduceMax as "any", ReduceMin as "all") reduce as 0 and 1.
        let isBool = x.elementType == .bool
        let values = try isBool ? try Cast(to: .float32).run([x])[0].floats() : x.floats()
        let results = Reduction.reduce(values, shape: x.shape, axes: reduced, kind: kind)
        let count = reduced.reduce(1) { $0 * x.shape[$1] }
        let finalShape = x.shape.enumerated().compactMap { reduced.contains($0.offset) ? (keepDims ? 1 : nil) : $0.element }
        let output = Tensor(shape: finalShape, floats: finish(results, count))
        return [isBool ? try Cast(to: .bool).run([output])[0] : output]
    }
}
