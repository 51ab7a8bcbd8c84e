/// Max pooling (ONNX MaxPool), NC(H)W; padded positions never win.
public struct MaxPool: Operator {
    public var kernelShape: [Int]
    public var strides: [Int]?
    public var dilations: [Int]?
    public var pads: [Int]?
    public var autoPad: AutoPad
    public var ceilMode: Bool

    public init(kernelShape: [Int], strides: [Int]? = nil, dilations: [Int]? = nil, pads: [Int]? = nil,
                autoPad: AutoPad = .explicit, ceilMode: Bool = false) {
        self.kernelShape = kernelShape
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.autoPad = autoPad
        self.ceilMode = ceilMode
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let g = try WindowGeometry.make(input: x.shape, kernel: kernelShape, strides: strides, dilations: dilations,
                                        pads: pads, autoPad: autoPad, ceilMode: ceilMode)
        let y = PoolKernels.pool(try x.floats(), g, kind: .max)
        return [Tensor(shape: g.outputShape(channels: g.inChannels, spatialRank: x.rank - 2), floats: y)]
    }
}

extension MaxPool {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let x = inputs.first??.shape else { return nil }
        return try WindowGeometry.poolShapes(x, kernel: kernelShape, strides: strides, dilations: dilations, pads: pads,
                                             autoPad: autoPad, ceilMode: ceilMode)
    }
}
