/// A 2-D convolution the optimizer moved into the channel-blocked layout (`ChannelBlocks`): one
/// group (1x1, any window, or Winograd) or depthwise, with its bias, residual and activation
/// fused. Inputs as Conv's: X (blocked, or a fused Concat's blocked parts), W omitted (packed
/// here at load), B, and the residual (blocked). Not an ONNX operator: only
/// `GraphOptimizer.blockChannels` creates it.
public struct BlockedConv: Operator, PlanDescribing, InputOverwriting {
    /// The convolutions a blocked chain runs.
    public enum Kind: Sendable, Equatable {
        /// 1x1, stride 1, no padding, one group, C and M multiples of 8.
        case pointwise
        /// One group, C and M multiples of 8, any other window, stride, padding and dilation.
        case window
        /// A window that is 3x3 stride 1 (C and M multiples of 8) by Winograd F(4x4, 3x3): the
        /// optimizer's choice where the plane has enough tiles (`kind` never gives it).
        case winograd
        /// One filter per channel, any window, stride, padding and dilation.
        case depthwise
        /// A stem: at most 4 input channels, K = C*KH*KW <= 256, one group, no residual; X stays
        /// NCHW, only the output is blocked.
        case fewChannels
    }

    public enum Weights: Sendable {
        case pointwise(PackedBGemm.PackedB)
        case window(PackedBGemm.PackedB)
        case winograd(BlockedWinogradKernel.Weights)
        case depthwise([Float])
        case fewChannels(PackedBGemm.PackedB)
    }

    /// The original attributes, activation, residual flag and weight shape.
    public let conv: Conv
    public let weights: Weights
    /// A 1x1 convolution whose input 4 is S [N or 1, C, 1, 1], one factor per input channel
    /// (squeeze-and-excitation's rescaling, folded in at load): each image's weights are
    /// rescaled by its S, which costs K x M multiplies instead of a pass over X.
    public var scalesInput = false
    /// A depthwise convolution that keeps its plane (stride 1, "same" padding, no residual) on
    /// planes narrow enough for `BlockedDepthwiseKernel.padded`, which copies each block's
    /// plane before writing it: the optimizer sets it where X's width is known to be so, and
    /// the output is then written over X (MobileNet's 14x14 and 7x7 blocks keep one expanded
    /// tensor in L2, not two).
    public var depthwiseInPlace = false

    /// Whether X is read in the blocked layout (every kind but a stem, whose X has too few channels).
    public var readsBlockedInput: Bool {
        if case .fewChannels = weights { return false }
        return true
    }

    /// The blocked kind `conv` with weights of shape `w` can take, if any (cheap: nothing is packed).
    public static func kind(of conv: Conv, weightShape w: [Int]) -> Kind? {
        guard w.count == 4 else { return nil }
        let (m, perGroup, kh, kw) = (w[0], w[1], w[2], w[3])
        let blocks = ChannelBlocks.width
        guard m > 0, m % blocks == 0 else { return nil }
        if conv.group == 1 && kh == 1 && kw == 1 && perGroup % blocks == 0 && (conv.strides ?? [1, 1]).allSatisfy({ $0 == 1 })
            && (conv.pads ?? [0, 0, 0, 0]).allSatisfy({ $0 == 0 }) && (conv.autoPad == .explicit || conv.autoPad == .valid) {
            return .pointwise
        }
        // A fused Concat's parts (and its BatchNormalization) are read in place only by a 1x1 convolution.
        guard conv.inputParts == 1, conv.inputAffine == nil else { return nil }
        if conv.group == m && perGroup == 1 { return .depthwise }
        if conv.group == 1 && perGroup % blocks == 0 { return .window }
        if conv.group == 1 && perGroup <= IndirectConvKernel.maxChannels && kh * kw > 1 && perGroup * kh * kw <= 256 && !conv.addsResidual {
            return .fewChannels
        }
        return nil
    }

    /// Whether a one-group window of shape `w` is 3x3 with stride and dilation 1 (Winograd's case).
    static func winogradFits(_ conv: Conv, weightShape w: [Int]) -> Bool {
        WinogradKernel.applies(kernel: (w[2], w[3]), strides: ((conv.strides ?? [1, 1])[0], (conv.strides ?? [1, 1]).last!),
                               dilations: ((conv.dilations ?? [1, 1])[0], (conv.dilations ?? [1, 1]).last!), groups: conv.group,
                               inChannels: w[1], outChannels: w[0])
    }

    /// The blocked form of `conv` with constant weights `w` (packed here), or nil when `kind`
    /// finds none; a `winogradTile` (4 or 2) takes a 3x3 stride-1 window by Winograd, F(4x4, 3x3)
    /// or F(2x2, 3x3).
    public init?(_ conv: Conv, weights w: Tensor, winogradTile: Int? = nil) {
        guard var kind = BlockedConv.kind(of: conv, weightShape: w.shape), let values = try? w.floats() else { return nil }
        if winogradTile != nil {
            guard kind == .window, BlockedConv.winogradFits(conv, weightShape: w.shape) else { return nil }
            kind = .winograd
        }
        let (m, perGroup, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        var copy = conv
        copy.packedWeights = nil
        copy.winogradWeights = nil
        copy.weightShape = w.shape
        switch kind {
        case .pointwise: weights = .pointwise(BlockedGemmConvKernel.packWeights(values, outChannels: m, inChannels: perGroup))
        case .window:
            weights = .window(BlockedGemmConvKernel.packWeights(values, outChannels: m, inChannels: perGroup, taps: kh * kw))
        case .winograd:
            weights = .winograd(BlockedWinogradKernel.transformWeights(values, outChannels: m, inChannels: perGroup, tile: winogradTile ?? 4))
        case .depthwise: weights = .depthwise(BlockedDepthwiseKernel.packWeights(values, channels: m, taps: kh * kw))
        case .fewChannels:
            weights = .fewChannels(BlockedGemmConvKernel.packWeights(values, outChannels: m, inChannels: perGroup * kh * kw))
        }
        self.conv = copy
    }

    /// The residual (input 3), which the GEMM kernels read once per output element just
    /// before writing it: ResNet-50 4.7 % faster on one thread with its residuals written over.
    public var overwritableInput: Int? {
        if depthwiseInPlace, case .depthwise = weights, !conv.addsResidual { return 0 }
        guard conv.addsResidual, conv.inputParts == 1, conv.inputAffine == nil else { return nil }
        switch weights {
        case .pointwise, .window: return 3
        default: return nil
        }
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        try run(inputs, overwriting: false)
    }

    public func runOverwriting(_ inputs: [Tensor?]) throws -> [Tensor] {
        try run(inputs, overwriting: overwritableInput != nil)
    }

    func run(_ inputs: [Tensor?], overwriting: Bool) throws -> [Tensor] {
        if conv.inputParts > 1 || conv.inputAffine != nil { return try runOnParts(inputs) }
        let x = try inputs.required(0, "X")
        guard let wShape = conv.weightShape, x.rank == 4,
              case (let channels, false) = wShape[1].multipliedReportingOverflow(by: conv.group), x.shape[1] == channels else {
            throw ManakoError(.shapeMismatch, "a blocked convolution for W \(conv.weightShape ?? []) got X \(x.shape)")
        }
        let g = try WindowGeometry.make(input: x.shape, kernel: Array(wShape.dropFirst(2)), strides: conv.strides,
                                        dilations: conv.dilations, pads: conv.pads, autoPad: conv.autoPad)
        let shape = g.outputShape(channels: wShape[0], spatialRank: 2)
        try ElementLimit.check(shape, "Conv output")
        let bias = try inputs.optional(2)?.floats()
        if let bias, bias.count != wShape[0] {
            throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, W has \(wShape[0]) filters")
        }
        let residual = conv.addsResidual ? try inputs.required(3, "residual") : nil
        if let residual, residual.shape != shape {
            throw ManakoError(.shapeMismatch, "a blocked convolution's residual \(residual.shape) must have its output's shape \(shape)")
        }
        let input = try x.floatValues(), residualValues = try residual?.floatValues()
        // A folded channel scale: S [N or 1, C, 1, 1], one factor per input channel and image.
        var factors: (values: [Float], perImage: Bool)?
        if scalesInput, case .pointwise(let packed) = weights {
            let s = try inputs.required(4, "S")
            guard s.rank == 4, s.shape[1] == packed.depth, s.shape[2] == 1, s.shape[3] == 1, s.shape[0] == 1 || s.shape[0] == g.batch else {
                throw ManakoError(.shapeMismatch, "a folded channel scale needs S [N or 1, \(packed.depth), 1, 1], got \(s.shape)")
            }
            factors = (try s.floats(), s.shape[0] != 1)
        }
        func compute(into out: UnsafeMutableBufferPointer<Float>) {
            input.withUnsafeBufferPointer { xb in
                bias.withOptionalPointer { biasPointer in
                    residualValues.withOptionalPointer { residualPointer in
                        switch weights {
                        case .pointwise(let packed), .window(let packed):
                            let spatial = g.outHeight * g.outWidth
                            guard let factors else {
                                BlockedGemmConvKernel.run(xb.baseAddress!, geometry: g, weights: packed, bias: biasPointer,
                                                          residual: residualPointer, activation: conv.activation, into: out.baseAddress!)
                                return
                            }
                            var single = g
                            single.batch = 1
                            // Image by image, with the weights' rows rescaled by that image's factors.
                            let (perImageIn, perImageOut) = (packed.depth * spatial, packed.columns * spatial)
                            for image in 0..<g.batch {
                                let scaled = BufferPool.alignedFloats(packed.values.count) { target in
                                    factors.values.withUnsafeBufferPointer {
                                        packed.scaledRows(by: $0.baseAddress! + (factors.perImage ? image * packed.depth : 0),
                                                          into: target.baseAddress!)
                                    }
                                }
                                BlockedGemmConvKernel.run(xb.baseAddress! + image * perImageIn, geometry: single,
                                                          weights: PackedBGemm.PackedB(packed, values: scaled), bias: biasPointer,
                                                          residual: residualPointer.map { $0 + image * perImageOut },
                                                          activation: conv.activation, into: out.baseAddress! + image * perImageOut)
                                BufferPool.recycle(scaled)
                            }
                        case .winograd(let transformed):
                            BlockedWinogradKernel.run(xb.baseAddress!, geometry: g, weights: transformed, bias: biasPointer,
                                                      residual: residualPointer, activation: conv.activation, into: out.baseAddress!)
                        case .fewChannels(let packed):
                            IndirectConvKernel.runBlocked(input: xb.baseAddress!, weights: packed, bias: biasPointer, geometry: g,
                                                          activation: conv.activation, into: out.baseAddress!)
                        case .depthwise(let packed):
                            packed.withUnsafeBufferPointer { wb in
                                BlockedDepthwiseKernel.run(xb.baseAddress!, geometry: g, weights: wb.baseAddress!, bias: biasPointer,
                                                           residual: residualPointer, activation: conv.activation, into: out.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        // A sizing run writes nothing, but reserves the pool scratch the kernel will take
        // (image by image with a channel scale: its rescaled weights beside the GEMM's own).
        func reserveScratch() {
            guard BufferPool.isSizing else { return }
            switch weights {
            case .pointwise(let packed), .window(let packed):
                var single = g
                if factors != nil { single.batch = 1 }
                BufferPool.reserveScratch(floats: BlockedGemmConvKernel.poolScratch(geometry: single, weights: packed),
                                          aligned: factors == nil ? [] : [packed.values.count])
            case .winograd(let transformed):
                BufferPool.reserveScratch(floats: BlockedWinogradKernel.poolScratch(geometry: g, weights: transformed))
            case .fewChannels, .depthwise:
                break
            }
        }
        // A depthwise layer written over X, where X's plane is the output's and the padded
        // kernel copies each block before writing it; any other geometry (a symbolic input
        // that came out wider) computes aside and copies back.
        if overwriting, depthwiseInPlace, case .aligned(let target) = input, target.owned, x.shape == shape {
            if BlockedDepthwiseKernel.runsPadded(g) {
                BufferPool.write(into: target.mutableBuffer, compute)
                reserveScratch()
            } else if BufferPool.isSizing {
                BufferPool.reserveScratch(aligned: [target.count])
            } else {
                let aside = BufferPool.alignedFloats(target.count, compute)
                aside.withUnsafeBufferPointer { target.mutableBuffer.baseAddress!.update(from: $0.baseAddress!, count: target.count) }
                BufferPool.recycle(aside)
            }
            return [Tensor(shape: shape, aligned: target)]
        }
        // Written over the residual when the graph gives it up (its elements are read just
        // before the same elements of Y are written).
        if overwriting, case .aligned(let target)? = residualValues, target.owned {
            BufferPool.write(into: target.mutableBuffer, compute)
            reserveScratch()
            return [Tensor(shape: shape, aligned: target)]
        }
        let y = BufferPool.alignedFloats(shape.reduce(1, *), compute)
        reserveScratch()
        return [Tensor(shape: shape, aligned: y)]
    }

    /// A 1x1 convolution whose X is a fused Concat on channels of blocked parts (inputs 0 and
    /// 4 ..< 3 + parts, as `Conv`'s): the GEMM's steps of k point into the parts where they are,
    /// and the Concat's BatchNormalization and activation, if any, apply as X is packed.
    func runOnParts(_ inputs: [Tensor?]) throws -> [Tensor] {
        guard case .pointwise(let packed) = weights, let wShape = conv.weightShape, !conv.addsResidual, !scalesInput else {
            throw ManakoError(.internal, "only a plain blocked 1x1 convolution reads a Concat's parts")
        }
        let parts = try (0..<conv.inputParts).map { try inputs.required(Conv.partIndex($0), "X part \($0)") }
        let first = parts[0], channels = try conv.joinedChannels(parts, weightShape: wShape)
        guard parts.allSatisfy({ $0.shape[1] > 0 && $0.shape[1] % ChannelBlocks.width == 0 }) else {
            throw ManakoError(.shapeMismatch, "blocked parts need channels in multiples of \(ChannelBlocks.width), got \(parts.map(\.shape))")
        }
        let g = try WindowGeometry.make(input: [first.shape[0], channels, first.shape[2], first.shape[3]], kernel: [1, 1],
                                        strides: conv.strides, dilations: conv.dilations, pads: conv.pads, autoPad: conv.autoPad)
        let shape = g.outputShape(channels: wShape[0], spatialRank: 2)
        try ElementLimit.check(shape, "Conv output")
        let bias = try inputs.optional(2)?.floats()
        if let bias, bias.count != wShape[0] {
            throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, W has \(wShape[0]) filters")
        }
        let affine = conv.inputAffine
        let values = try parts.map { try $0.floatValues() }
        let y = BufferPool.alignedFloats(shape.reduce(1, *)) { out in
            Conv.withPointers(values) { pointers in
                bias.withOptionalPointer { biasPointer in
                    (affine?.multiplier).withOptionalPointer { scale in
                        (affine?.offset).withOptionalPointer { shift in
                            // Empty parts (no pixels) leave nothing to compute.
                            guard pointers.allSatisfy({ $0 != nil }) else { return }
                            let through = affine.map { BlockedGemmConvKernel.InputAffine(scale: scale!, shift: shift!, activation: $0.activation) }
                            BlockedGemmConvKernel.run(parts: zip(pointers, parts).map { ($0!, $1.shape[1]) }, geometry: g, weights: packed,
                                                      bias: biasPointer, residual: nil, activation: conv.activation, inputAffine: through,
                                                      into: out.baseAddress!)
                        }
                    }
                }
            }
        }
        if BufferPool.isSizing {
            BufferPool.reserveScratch(floats: BlockedGemmConvKernel.poolScratch(geometry: g, weights: packed, throughAffine: affine != nil))
        }
        return [Tensor(shape: shape, aligned: y)]
    }

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? { try conv.inferShapes(inputs) }

    public func plan(_ inputs: [Tensor?]) -> String {
        var algorithm: String
        let w = conv.weightShape ?? [0, 0, 0, 0]
        switch weights {
        case .pointwise:
            let pixels = (inputs.first ?? nil).map { $0.rank == 4 ? $0.shape[2] * $0.shape[3] : 0 } ?? 0
            algorithm = "NCHW8c pointwise GEMM \(w[0])x\(w[1])x\(pixels)"
        case .window:
            let pixels = (inputs.first ?? nil).map { $0.rank == 4 ? $0.shape[2] * $0.shape[3] : 0 } ?? 0
            algorithm = "NCHW8c direct GEMM \(w[2])x\(w[3])/\(conv.strides?.last ?? 1) \(w[0])x\(w[1] * w[2] * w[3]), \(pixels) input pixels"
        case .winograd:
            let side: Int
            if case .winograd(let transformed) = weights { side = transformed.tile } else { side = 4 }
            var tiles = 0
            if let x = inputs.first ?? nil, x.rank == 4 {
                tiles = BlockedWinogradKernel.tiles(height: x.shape[2], width: x.shape[3], tile: side)
            }
            algorithm = "NCHW8c Winograd F(\(side)x\(side),3x3), \(tiles) tiles, \((side + 2) * (side + 2)) GEMMs \(w[0])x\(w[1])"
        case .depthwise:
            algorithm = "NCHW8c depthwise direct \(w[2])x\(w[3])/\(conv.strides?.last ?? 1)"
        case .fewChannels:
            algorithm = "NCHW to NCHW8c indirect GEMM \(w[2])x\(w[3])/\(conv.strides?.last ?? 1) \(w[0])x\(w[1] * w[2] * w[3])"
        }
        if conv.inputParts > 1 || conv.inputAffine != nil {
            algorithm += ", X from a Concat of \(conv.inputParts) blocked parts" + (conv.inputAffine != nil ? " through its BatchNormalization" : "")
        }
        let fused = [scalesInput ? "input scale" : nil, inputs.count > 2 && inputs[2] != nil ? "bias" : nil, conv.addsResidual ? "residual" : nil,
                     conv.activation == .none ? nil : "\(conv.activation)"].compactMap { $0 }
        if !fused.isEmpty { algorithm += " + " + fused.joined(separator: " + ") }
        return algorithm
    }
}
