/// A blocked depthwise convolution run as one with the layer that alone makes its input (a stem
/// over NCHW X, or a 1x1 expansion over blocked X) and, if its output has one reader, the 1x1
/// projection after it (`InvertedResidualKernel`): the depthwise layer's input, and with a
/// projection its output, are never written. Inputs: X, the source's bias, the depthwise bias,
/// the projection's bias and its residual (any may be omitted). Not an ONNX operator: only
/// `GraphOptimizer.blockChannels` creates it, from two or three `BlockedConv`s.
public struct BlockedInvertedResidual: Operator, PlanDescribing {
    public let source: BlockedConv
    public let depthwise: BlockedConv
    public let projection: BlockedConv?
    let sourceWeights: PackedBGemm.PackedB
    let depthwiseWeights: [Float]

    /// The layers as one, if `source` is a blocked stem (any projection) or a plain 1x1
    /// convolution (with a projection: an expansion and depthwise layer alone are
    /// `BlockedExpandDepthwise`), `depthwise` a blocked depthwise convolution with no residual
    /// over its channels, and `projection` a plain blocked 1x1 convolution of those channels.
    public init?(source: BlockedConv, depthwise: BlockedConv, projection: BlockedConv? = nil) {
        switch source.weights {
        case .fewChannels(let packed) where !source.conv.addsResidual:
            sourceWeights = packed
        case .pointwise(let packed) where projection != nil && !source.scalesInput && !source.conv.addsResidual
            && source.conv.inputParts == 1 && source.conv.inputAffine == nil:
            sourceWeights = packed
        default:
            return nil
        }
        guard case .depthwise(let filters) = depthwise.weights, !depthwise.conv.addsResidual,
              depthwise.conv.weightShape?.first == sourceWeights.columns else { return nil }
        if let projection {
            guard case .pointwise(let packed) = projection.weights, packed.depth == sourceWeights.columns, !projection.scalesInput,
                  projection.conv.inputParts == 1, projection.conv.inputAffine == nil else { return nil }
        }
        self.source = source
        self.depthwise = depthwise
        self.projection = projection
        depthwiseWeights = filters
    }

    /// The source's form for an X of shape `x`, and the depthwise geometry over its output.
    func geometries(_ x: [Int]) throws -> (source: InvertedResidualKernel.Source, depthwise: WindowGeometry) {
        guard x.count == 4, let d = depthwise.conv.weightShape else {
            throw ManakoError(.shapeMismatch, "a fused depthwise layer got X \(x)")
        }
        let source: InvertedResidualKernel.Source, plane: (height: Int, width: Int)
        if case .fewChannels = self.source.weights {
            guard let s = self.source.conv.weightShape, x[1] == s[1] else {
                throw ManakoError(.shapeMismatch, "a fused stem of W \(self.source.conv.weightShape ?? []) got X \(x)")
            }
            let stem = try WindowGeometry.make(input: x, kernel: Array(s.dropFirst(2)), strides: self.source.conv.strides,
                                               dilations: self.source.conv.dilations, pads: self.source.conv.pads,
                                               autoPad: self.source.conv.autoPad)
            (source, plane) = (.stem(sourceWeights, stem), (stem.outHeight, stem.outWidth))
        } else {
            guard x[1] == sourceWeights.depth else {
                throw ManakoError(.shapeMismatch, "a fused expansion of \(sourceWeights.depth) channels got X \(x)")
            }
            (source, plane) = (.expansion(sourceWeights), (x[2], x[3]))
        }
        let g = try WindowGeometry.make(input: [x[0], sourceWeights.columns, plane.height, plane.width], kernel: Array(d.dropFirst(2)),
                                        strides: depthwise.conv.strides, dilations: depthwise.conv.dilations,
                                        pads: depthwise.conv.pads, autoPad: depthwise.conv.autoPad)
        guard ExpandDepthwiseKernel.applies(g) else {
            throw ManakoError(.shapeMismatch, "a fused depthwise window needs rows of at least 4 outputs, got X \(x)")
        }
        return (source, g)
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let (source, g) = try geometries(x.shape)
        let channels = sourceWeights.columns
        let outChannels: Int
        if let projection, case .pointwise(let packed) = projection.weights { outChannels = packed.columns } else { outChannels = channels }
        let shape = g.outputShape(channels: outChannels, spatialRank: 2)
        try ElementLimit.check(shape, "Conv output")
        let biases = try [1, 2, 3].map { try inputs.optional($0)?.floats() }
        for (bias, count) in zip(biases, [channels, channels, outChannels]) {
            if let bias, bias.count != count {
                throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, its convolution has \(count) filters")
            }
        }
        let residual = projection?.conv.addsResidual == true ? try inputs.required(4, "residual") : nil
        if let residual, residual.shape != shape {
            throw ManakoError(.shapeMismatch, "a fused projection's residual \(residual.shape) must have its output's shape \(shape)")
        }
        let input = try x.floatValues(), residualValues = try residual?.floatValues()
        let y = BufferPool.alignedFloats(shape.reduce(1, *)) { out in
            input.withUnsafeBufferPointer { xb in
                biases[0].withOptionalPointer { sourceBias in
                    biases[1].withOptionalPointer { depthwiseBias in
                        biases[2].withOptionalPointer { projectionBias in
                            residualValues.withOptionalPointer { residualPointer in
                                depthwiseWeights.withUnsafeBufferPointer { filters in
                                    let after = projection.flatMap { p -> InvertedResidualKernel.Projection? in
                                        guard case .pointwise(let packed) = p.weights else { return nil }
                                        return .init(weights: packed, bias: projectionBias, residual: residualPointer, activation: p.conv.activation)
                                    }
                                    InvertedResidualKernel.run(xb.baseAddress!, source: source, sourceBias: sourceBias,
                                                               sourceActivation: self.source.conv.activation, depthwise: g,
                                                               depthwiseWeights: filters.baseAddress!, depthwiseBias: depthwiseBias,
                                                               depthwiseActivation: depthwise.conv.activation, projection: after,
                                                               into: out.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
        return [Tensor(shape: shape, aligned: y)]
    }

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        func input(_ i: Int) -> ShapeFact? { i < inputs.count ? inputs[i] : nil }
        guard let sourceOutput = try source.inferShapes([input(0), nil, input(1)])?.first,
              let depthwiseOutput = try depthwise.inferShapes([ShapeFact(shape: sourceOutput), nil, input(2)])?.first else { return nil }
        guard let projection else { return [depthwiseOutput] }
        return try projection.inferShapes([ShapeFact(shape: depthwiseOutput), nil, input(3), input(4)])
    }

    public func plan(_ inputs: [Tensor?]) -> String {
        let layout = "NCHW8c "
        let stem: Bool
        if case .fewChannels = source.weights { stem = true } else { stem = false }
        var plans = [source.plan([inputs.first ?? nil, nil, inputs.count > 1 ? inputs[1] : nil]),
                     depthwise.plan([nil, nil, inputs.count > 2 ? inputs[2] : nil])]
        if let projection { plans.append(projection.plan([nil, nil, inputs.count > 3 ? inputs[3] : nil, inputs.count > 4 ? inputs[4] : nil])) }
        let names = (stem ? "stem" : "expansion") + " + depthwise" + (projection == nil ? "" : " + projection")
        return names + " (" + (projection == nil ? "no \(stem ? "stem" : "expanded") tensor" : "no tensor between them") + "): "
            + plans.enumerated().map { $0.offset > 0 && $0.element.hasPrefix(layout) ? String($0.element.dropFirst(layout.count)) : $0.element }
                .joined(separator: ", then ")
    }
}
