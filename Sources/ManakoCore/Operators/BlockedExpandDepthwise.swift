/// A blocked 1x1 expansion and the depthwise convolution that alone reads it, run as one
/// (`ExpandDepthwiseKernel`): the expanded tensor is never written. Inputs: X (blocked), the
/// expansion's bias and the depthwise convolution's bias (either may be omitted). Not an ONNX
/// operator: only `GraphOptimizer.blockChannels` creates it, from two `BlockedConv`s.
public struct BlockedExpandDepthwise: Operator, PlanDescribing {
    public let expand: BlockedConv
    public let depthwise: BlockedConv
    let expandWeights: PackedBGemm.PackedB
    let depthwiseWeights: [Float]

    /// The pair as one, if `expand` is a plain blocked 1x1 convolution (no residual, parts or
    /// input scale) and `depthwise` a blocked depthwise one with no residual.
    public init?(expand: BlockedConv, depthwise: BlockedConv) {
        guard case .pointwise(let packed) = expand.weights, !expand.scalesInput, !expand.conv.addsResidual,
              expand.conv.inputParts == 1, expand.conv.inputAffine == nil,
              case .depthwise(let filters) = depthwise.weights, !depthwise.conv.addsResidual,
              depthwise.conv.weightShape?.first == packed.columns else { return nil }
        self.expand = expand
        self.depthwise = depthwise
        expandWeights = packed
        depthwiseWeights = filters
    }

    /// The depthwise geometry over the expanded channels for an X of shape `x`.
    func geometry(_ x: [Int]) throws -> WindowGeometry {
        guard x.count == 4, x[1] == expandWeights.depth, let w = depthwise.conv.weightShape else {
            throw ManakoError(.shapeMismatch, "a fused expansion of \(expandWeights.depth) channels got X \(x)")
        }
        let g = try WindowGeometry.make(input: [x[0], expandWeights.columns, x[2], x[3]], kernel: Array(w.dropFirst(2)),
                                        strides: depthwise.conv.strides, dilations: depthwise.conv.dilations,
                                        pads: depthwise.conv.pads, autoPad: depthwise.conv.autoPad)
        guard ExpandDepthwiseKernel.applies(g) else {
            throw ManakoError(.shapeMismatch, "a fused depthwise window needs rows of at least 4 outputs, got X \(x)")
        }
        return g
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let g = try geometry(x.shape)
        let shape = g.outputShape(channels: expandWeights.columns, spatialRank: 2)
        try ElementLimit.check(shape, "Conv output")
        let biases = try [1, 2].map { try inputs.optional($0)?.floats() }
        for bias in biases {
            if let bias, bias.count != expandWeights.columns {
                throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, the fused convolutions have \(expandWeights.columns) filters")
            }
        }
        let input = try x.floatValues()
        let y = BufferPool.alignedFloats(shape.reduce(1, *)) { out in
            input.withUnsafeBufferPointer { xb in
                biases[0].withOptionalPointer { expandBias in
                    biases[1].withOptionalPointer { depthwiseBias in
                        depthwiseWeights.withUnsafeBufferPointer { filters in
                            ExpandDepthwiseKernel.run(xb.baseAddress!, expandWeights: expandWeights, expandBias: expandBias,
                                                      expandActivation: expand.conv.activation, depthwise: g,
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
        guard let expanded = try expand.inferShapes([inputs.first ?? nil, nil, inputs.count > 1 ? inputs[1] : nil])?.first else { return nil }
        return try depthwise.inferShapes([ShapeFact(shape: expanded), nil, inputs.count > 2 ? inputs[2] : nil])
    }

    public func plan(_ inputs: [Tensor?]) -> String {
        let layout = "NCHW8c "
        let plans = [expand.plan([inputs.first ?? nil, nil, inputs.count > 1 ? inputs[1] : nil]),
                     depthwise.plan([nil, nil, inputs.count > 2 ? inputs[2] : nil])]
        return layout + "expansion + depthwise (no expanded tensor): "
            + plans.map { $0.hasPrefix(layout) ? String($0.dropFirst(layout.count)) : $0 }.joined(separator: ", then ")
    }
}
