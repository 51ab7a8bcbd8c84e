/// Convolution (ONNX Conv): inputs X [N, C, (H,) W], W [M, C/group, (KH,) KW], optional B [M].
public struct Conv: Operator {
    public var kernelShape: [Int]?
    public var strides: [Int]?
    public var dilations: [Int]?
    public var pads: [Int]?
    public var autoPad: AutoPad
    public var group: Int

    public init(kernelShape: [Int]? = nil, strides: [Int]? = nil, dilations: [Int]? = nil, pads: [Int]? = nil,
                autoPad: AutoPad = .explicit, group: Int = 1) {
        self.kernelShape = kernelShape
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.autoPad = autoPad
        self.group = group
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), w = try inputs.required(1, "W")
        let bias = try inputs.optional(2)?.floats()
        guard x.rank == 3 || x.rank == 4, w.rank == x.rank else {
            throw ManakoError(.shapeMismatch, "X \(x.shape) and W \(w.shape) must both be 3-D or 4-D")
        }
        let channels = x.shape[1], outChannels = w.shape[0]
        guard group >= 1, channels % group == 0, outChannels % group == 0, w.shape[1] * group == channels else {
            throw ManakoError(.shapeMismatch, "X has \(channels) channels but W \(w.shape) with group \(group) expects \(w.shape[1] * group)")
        }
        if let bias, bias.count != outChannels {
            throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, W has \(outChannels) filters")
        }
        let kernel = Array(w.shape.dropFirst(2))
        if let kernelShape, kernelShape != kernel {
            throw ManakoError(.shapeMismatch, "kernel_shape \(kernelShape) does not match W \(w.shape)")
        }
        let g = try WindowGeometry.make(input: x.shape, kernel: kernel, strides: strides, dilations: dilations,
                                        pads: pads, autoPad: autoPad)
        let y = ConvKernels.convolve(input: try x.floats(), weights: try w.floats(), bias: bias, geometry: g,
                                     outChannels: outChannels, groups: group)
        return [Tensor(shape: g.outputShape(channels: outChannels, spatialRank: x.rank - 2), floats: y)]
    }
}
