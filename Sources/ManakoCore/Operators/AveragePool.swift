/// Average pooling (ONNX AveragePool), NC(H)W. Without `count_include_pad` the divisor counts
/// only input positions; with it, positions inside the declared padding count too.
public struct AveragePool: Operator {
    public var kernelShape: [Int]
    public var strides: [Int]?
    public var dilations: [Int]?
    public var pads: [Int]?
    public var autoPad: AutoPad
    public var ceilMode: Bool
    public var countIncludePad: Bool

    public init(kernelShape: [Int], strides: [Int]? = nil, dilations: [Int]? = nil, pads: [Int]? = nil,
                autoPad: AutoPad = .explicit, ceilMode: Bool = false, countIncludePad: Bool = false) {
        self.kernelShape = kernelShape
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.autoPad = autoPad
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let g = try WindowGeometry.make(input: x.shape, kernel: kernelShape, strides: strides, dilations: dilations,
                                        pads: pads, autoPad: autoPad, ceilMode: ceilMode)
        let y = PoolKernels.pool(try x.floats(), g, kind: countIncludePad ? .averageIncludingPad : .average)
        return [Tensor(shape: g.outputShape(channels: g.inChannels, spatialRank: x.rank - 2), floats: y)]
    }
}

extension AveragePool {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let x = inputs.first??.shape else { return nil }
        return try WindowGeometry.poolShapes(x, kernel: kernelShape, strides: strides, dilations: dilations, pads: pads,
                                             autoPad: autoPad, ceilMode: ceilMode)
    }
}
