/// Sum over `axes` (ONNX ReduceSum; axes from input 1 since opset 13).
/// No axes means all of them, unless `noopWithEmptyAxes`.
public struct ReduceSum: Operator {
    public var staticAxes: [Int]?
    public var keepDims: Bool
    public var noopWithEmptyAxes: Bool

    public init(axes: [Int]? = nil, keepDims: Bool = true, noopWithEmptyAxes: Bool = false) {
        self.staticAxes = axes
        self.keepDims = keepDims
        self.noopWithEmptyAxes = noopWithEmptyAxes
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try ReduceAxes(staticAxes: staticAxes, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes).run(inputs, kind: .sum)
    }
}
