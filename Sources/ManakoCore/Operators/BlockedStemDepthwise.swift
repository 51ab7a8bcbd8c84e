/// A blocked stem (a convolution of few input channels, X in NCHW) and the depthwise convolution
/// that alone reads it, run as one (`StemDepthwiseKernel`): the stem's output is never written.
/// Inputs: X (NCHW), the stem's bias and the depthwise convolution's bias (either may be
/// omitted). Not an ONNX operator: only `GraphOptimizer.blockChannels` creates it, from two
/// `BlockedConv`s.
public struct BlockedStemDepthwise: Operator, PlanDescribing {
    public let stem: BlockedConv
    public let depthwise: BlockedConv
    let stemWeights: PackedBGemm.PackedB
    let depthwiseWeights: [Float]

    /// The pair as one, if `stem` is a blocked stem and `depthwise` a blocked depthwise
    /// convolution with no residual over its channels.
    public init?(stem: BlockedConv, depthwise: BlockedConv) {
        guard case .fewChannels(let packed) = stem.weights, !stem.conv.addsResidual,
              case .depthwise(let filters) = depthwise.weights, !depthwise.conv.addsResidual,
              depthwise.conv.weightShape?.first == packed.columns else { return nil }
        self.stem = stem
        self.depthwise = depthwise
        stemWeights = packed
        depthwiseWeights = filters
    }

    /// The stem's geometry over an X of shape `x`, and the depthwise one over the stem's output.
    func geometries(_ x: [Int]) throws -> (stem: WindowGeometry, depthwise: WindowGeometry) {
        guard x.count == 4, let s = stem.conv.weightShape, x[1] == s[1], let d = depthwise.conv.weightShape else {
            throw ManakoError(.shapeMismatch, "a fused stem of W \(stem.conv.weightShape ?? []) got X \(x)")
        }
        let stemGeometry = try WindowGeometry.make(input: x, kernel: Array(s.dropFirst(2)), strides: stem.conv.strides,
                                                   dilations: stem.conv.dilations, pads: stem.conv.pads, autoPad: stem.conv.autoPad)
        let g = try WindowGeometry.make(input: [x[0], s[0], stemGeometry.outHeight, stemGeometry.outWidth], kernel: Array(d.dropFirst(2)),
                                        strides: depthwise.conv.strides, dilations: depthwise.conv.dilations,
                                        pads: depthwise.conv.pads, autoPad: depthwise.conv.autoPad)
        guard ExpandDepthwiseKernel.applies(g) else {
            throw ManakoError(.shapeMismatch, "a fused depthwise window needs rows of at least 4 outputs, got X \(x)")
        }
        return (stemGeometry, g)
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let (s, g) = try geometries(x.shape)
        let shape = g.outputShape(channels: stemWeights.columns, spatialRank: 2)
        try ElementLimit.check(shape, "Conv output")
        let biases = try [1, 2].map { try inputs.optional($0)?.floats() }
        for bias in biases {
            if let bias, bias.count != stemWeights.columns {
                throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, the fused convolutions have \(stemWeights.columns) filters")
            }
        }
        let input = try x.floatValues()
        let y = BufferPool.alignedFloats(shape.reduce(1, *)) { out in
            input.withUnsafeBufferPointer { xb in
                biases[0].withOptionalPointer { stemBias in
                    biases[1].withOptionalPointer { depthwiseBias in
                        depthwiseWeights.withUnsafeBufferPointer { filters in
                            StemDepthwiseKernel.run(xb.baseAddress!, stemWeights: stemWeights, stemBias: stemBias, stem: s,
                                                    stemActivation: stem.conv.activation, depthwise: g,
                                                    depthwiseWeights: filters.baseAddress!, depthwiseBias: depthwiseBias,
                                                    depthwiseActivation: depthwise.conv.activation, into: out.baseAddress!)
                        }
                    }
                }
            }
        }
        return [Tensor(shape: shape, aligned: y)]
    }

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let stemOutput = try stem.inferShapes([inputs.first ?? nil, nil, inputs.count > 1 ? inputs[1] : nil])?.first else { return nil }
        return try depthwise.inferShapes([ShapeFact(shape: stemOutput), nil, inputs.count > 2 ? inputs[2] : nil])
    }

    public func plan(_ inputs: [Tensor?]) -> String {
        let plans = [stem.plan([inputs.first ?? nil, nil, inputs.count > 1 ? inputs[1] : nil]),
                     depthwise.plan([nil, nil, inputs.count > 2 ? inputs[2] : nil])]
        return "stem + depthwise (no stem tensor): " + plans.joined(separator: ", then ")
    }
}
