import CManakoSIMD
/// Convolution (ONNX Conv): inputs X [N, C, (H,) W], W [M, C/group, (KH,) KW], optional B [M].
public struct Conv: Operator, ActivationFusing {
    public var kernelShape: [Int]?
    public var strides: [Int]?
    public var dilations: [Int]?
    public var pads: [Int]?
    public var autoPad: AutoPad
    public var group: Int
    /// An activation applied to the output in place (fused at load by GraphOptimizer).
    public var activation: FusedActivation = .none
    /// Input 3 is added to the output before the activation (a residual Add fused at load).
    public var addsResidual = false
    /// The weights packed for the GEMM path, per group (prepared at load when W is a constant).
    public var packedWeights: [PanelGemm.PackedA]?
    /// The weights packed for `PatchConvKernel` (prepared at load where windows tile the input).
    public var patchWeights: PackedBGemm.PackedB?
    /// The weights transformed for Winograd F(4x4, 3x3) (prepared at load for eligible convolutions).
    public var winogradWeights: WinogradKernel.Weights?
    /// W's shape when the load dropped W itself, keeping only its prepared form.
    public var weightShape: [Int]?
    /// X arrives in this many parts, inputs 0 and 4 ..< 3 + inputParts (a Concat on channels fused
    /// at load into the 1x1 convolution that reads it; see `runOnParts`).
    public var inputParts = 1
    /// The fused Concat's per-channel BatchNormalization and activation, applied to X as it is read.
    public var inputAffine: Concat.ChannelAffine?

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
        if inputParts > 1 || inputAffine != nil { return try runOnParts(inputs) }
        let x = try inputs.required(0, "X"), w = inputs.count > 1 ? inputs[1] : nil
        guard let wShape = w?.shape ?? weightShape else { throw ManakoError(.invalidModel, "Conv needs its input W") }
        let bias = try inputs.optional(2)?.floats()
        guard x.rank == 3 || x.rank == 4, wShape.count == x.rank else {
            throw ManakoError(.shapeMismatch, "X \(x.shape) and W \(wShape) must both be 3-D or 4-D")
        }
        let channels = x.shape[1], outChannels = wShape[0]
        let (expected, overflow) = wShape[1].multipliedReportingOverflow(by: max(group, 1))
        guard group >= 1, channels % group == 0, outChannels % group == 0, !overflow, expected == channels else {
            throw ManakoError(.shapeMismatch, "X has \(channels) channels but W \(wShape) with group \(group) expects \(wShape[1] * group)")
        }
        if let bias, bias.count != outChannels {
            throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, W has \(outChannels) filters")
        }
        let kernel = Array(wShape.dropFirst(2))
        if let kernelShape, kernelShape != kernel {
            throw ManakoError(.shapeMismatch, "kernel_shape \(kernelShape) does not match W \(wShape)")
        }
        let g = try WindowGeometry.make(input: x.shape, kernel: kernel, strides: strides, dilations: dilations,
                                        pads: pads, autoPad: autoPad)
        let shape = g.outputShape(channels: outChannels, spatialRank: x.rank - 2)
        try ElementLimit.check(shape, "Conv output")
        let residual = addsResidual ? try inputs.required(3, "residual") : nil
        // Without W (dropped at load) only the prepared form the inferred shapes chose can run.
        let winogradFits = (g.outHeight + 3) / 4 * ((g.outWidth + 3) / 4) >= WinogradKernel.minimumTiles
        if w == nil && !(packedWeights != nil || (winogradWeights != nil && winogradFits && residual.map { $0.shape == shape } ?? true)) {
            throw ManakoError(.internal, "the convolution's weights were dropped at load for other input shapes")
        }
        if let residual, residual.shape != shape {
            // Fused at load without shapes: a broadcasting residual takes the unfused route.
            let plain = ConvKernels.convolve(input: try x.floats(), weights: try w?.floats() ?? [], bias: bias, geometry: g,
                                             outChannels: outChannels, groups: group, packed: packedWeights)
            var (sum, sumShape) = try Broadcast.apply(plain, shape, try residual.floats(), residual.shape, +)
            activation.apply(&sum)
            return [Tensor(shape: sumShape, floats: sum)]
        }
        if let patch = patchWeights, residual == nil, usesPatchKernel(g, channels: channels, outChannels: outChannels) {
            let input = try x.floatValues()
            let y = BufferPool.floats(shape.reduce(1, *)) { out in
                input.withUnsafeBufferPointer { source in
                    bias.withOptionalPointer { biasPointer in
                        PatchConvKernel.run(source.baseAddress!, geometry: g, weights: patch, bias: biasPointer, activation: activation,
                                            into: out.baseAddress!)
                    }
                }
            }
            if BufferPool.isSizing { BufferPool.reserveScratch(floats: PatchConvKernel.poolScratch(geometry: g, weights: patch)) }
            return [Tensor(shape: shape, floats: y)]
        }
        if let winograd = winogradWeights, winograd.inChannels == channels, winograd.outChannels == outChannels, x.rank == 4,
           winogradFits {
            let y = WinogradKernel.run(input: try x.floats(), weights: winograd, bias: bias, geometry: g,
                                       activation: activation, residual: try residual?.floats())
            return [Tensor(shape: shape, floats: y)]
        }
        let y = ConvKernels.convolve(input: try x.floats(), weights: try w?.floats() ?? [], bias: bias, geometry: g,
                                     outChannels: outChannels, groups: group, activation: activation,
                                     residual: try residual?.floats(), packed: packedWeights)
        return [Tensor(shape: shape, floats: y)]
    }
}

extension Conv {
    /// Whether `patchWeights` serve this geometry: windows that tile a 2-D input, weights for
    /// these channels.
    func usesPatchKernel(_ g: WindowGeometry, channels: Int, outChannels: Int) -> Bool {
        guard let patch = patchWeights else { return false }
        return patch.depth == channels * g.kernelHeight * g.kernelWidth && patch.columns == outChannels
            && PatchConvKernel.fits(kernel: [g.kernelHeight, g.kernelWidth], strides: [g.strideHeight, g.strideWidth],
                                    dilations: [g.dilationHeight, g.dilationWidth], pads: [g.padTop, g.padLeft, g.padBottom, g.padRight],
                                    groups: group)
    }
}

extension Conv: PlanDescribing {
    /// The kernel `run` takes for these inputs, and what its epilogue fuses.
    public func plan(_ inputs: [Tensor?]) -> String {
        guard let x = inputs.first ?? nil, let wShape = (inputs.count > 1 ? inputs[1]?.shape : nil) ?? weightShape,
              x.rank == 4, wShape.count == 4,
              let g = try? WindowGeometry.make(input: x.shape, kernel: Array(wShape.dropFirst(2)), strides: strides,
                                               dilations: dilations, pads: pads, autoPad: autoPad) else { return "im2col + panel GEMM" }
        let kernel = "\(g.kernelHeight)x\(g.kernelWidth)/\(g.strideWidth)"
        var algorithm: String
        let tiles = (g.outHeight + 3) / 4 * ((g.outWidth + 3) / 4)
        if !addsResidual && usesPatchKernel(g, channels: x.shape[1], outChannels: wShape[0]) {
            algorithm = "patch GEMM \(kernel) \(wShape[0])x\(wShape[1] * g.kernelHeight * g.kernelWidth)x\(g.outHeight * g.outWidth)"
        } else if let winograd = winogradWeights, winograd.inChannels == x.shape[1], tiles >= WinogradKernel.minimumTiles {
            algorithm = "Winograd F(4x4,3x3), \(tiles) tiles, 36 GEMMs \(wShape[0])x\(wShape[1])"
        } else if group == x.shape[1] && group == wShape[0] && !addsResidual {
            algorithm = "depthwise direct \(kernel)"
        } else if g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1
                    && g.padTop + g.padLeft + g.padBottom + g.padRight == 0 {
            algorithm = "pointwise panel GEMM \(wShape[0] / group)x\(wShape[1])x\(g.outHeight * g.outWidth)"
        } else if IndirectConvKernel.fits(g, groups: group) {
            algorithm = "indirect GEMM \(kernel) \(wShape[0])x\(wShape[1] * g.kernelHeight * g.kernelWidth)x\(g.outHeight * g.outWidth)"
        } else {
            algorithm = "im2col \(kernel) + panel GEMM \(wShape[0] / group)x\(wShape[1] * g.kernelHeight * g.kernelWidth)x\(g.outHeight * g.outWidth)"
        }
        if group > 1 && !algorithm.hasPrefix("depthwise") { algorithm += ", \(group) groups" }
        if inputParts > 1 { algorithm += ", X packed from a Concat of \(inputParts) parts" + (inputAffine != nil ? " through its BatchNormalization" : "") }
        let fused = [inputs.count > 2 && inputs[2] != nil ? "bias" : nil, addsResidual ? "residual" : nil,
                     activation == .none ? nil : "\(activation)"].compactMap { $0 }
        return fused.isEmpty ? algorithm : algorithm + " + " + fused.joined(separator: " + ")
    }
}

extension Conv {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        let inputs = inputParts > 1 ? joinedParts(inputs) : inputs
        guard let x = inputs.first??.shape, let w = (inputs.count > 1 ? inputs[1]?.concreteShape : nil) ?? weightShape else { return nil }
        guard x.count == w.count, x.count == 3 || x.count == 4 else {
            throw ManakoError(.shapeMismatch, "X \(ShapeRules.describe(x)) and W \(w) must both be 3-D or 4-D")
        }
        guard group >= 1, !w[1].multipliedReportingOverflow(by: group).overflow else {
            throw ManakoError(.invalidModel, "group \(group) does not fit W \(w)")
        }
        if let c = x[1], c != w[1] * group {
            throw ManakoError(.shapeMismatch, "X has \(c) channels but W \(w) with group \(group) expects \(w[1] * group)")
        }
        if inputs.count > 2, let b = inputs[2]?.concreteShape, b != [w[0]] {
            throw ManakoError(.shapeMismatch, "B has shape \(b), W has \(w[0]) filters")
        }
        let spatial = Array(x[2...])
        guard spatial.allSatisfy({ $0 != nil }) else { return [[x[0], w[0]] + spatial.map { _ in nil }] }
        let g = try WindowGeometry.make(input: [1, w[1] * group] + spatial.map { $0! }, kernel: Array(w[2...]), strides: strides,
                                        dilations: dilations, pads: pads, autoPad: autoPad)
        let own: [Int?] = [x[0], w[0]] + g.outputShape(channels: w[0], spatialRank: spatial.count).dropFirst(2).map { $0 }
        if addsResidual, inputs.count > 3, let r = inputs[3]?.shape { return [try ShapeRules.broadcast(own, r)] }
        return [own]
    }
}

/// An operator that can apply an activation to its own output (the optimizer fuses into it).
public protocol ActivationFusing: Operator {
    var activation: FusedActivation { get set }
}

/// An elementwise activation a producing operator applies to its own output.
public enum FusedActivation: Sendable, Equatable {
    case none
    case relu
    case clip(min: Float, max: Float)
    /// x * sigmoid(x) (SiLU, Swish: EfficientNet).
    case silu
    /// x * max(0, min(1, x / 6 + 1 / 2)) (MobileNetV3).
    case hardSwish
    /// x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2)) (transformers' MLPs, ConvNeXt).
    case gelu

    public func apply(_ values: inout [Float]) {
        if self == .none { return }
        VectorMath.transform(&values, apply)
    }

    public func apply(_ v: UnsafeMutablePointer<Float>, count: Int) {
        if self == .none { return }
        VectorMath.transform(v, count: count, apply)
    }

    /// The activation on eight lanes (kernels call it in their epilogue, before the store).
    /// The clamps are inline (two instructions); the curves are one call, kept out of line so
    /// the kernels that call this stay small enough to be inlined themselves.
    @inline(__always)
    public func apply(_ v: SIMD8<Float>) -> SIMD8<Float> {
        switch self {
        case .none: return v
        case .relu: return mk_clamp(v, SIMD8(repeating: 0), SIMD8(repeating: .infinity))
        case .clip(let lo, let hi): return mk_clamp(v, SIMD8(repeating: lo), SIMD8(repeating: hi))
        case .silu, .hardSwish, .gelu: return applyCurve(v)
        }
    }

    /// SiLU, HardSwish and GELU: kernels store their sums with `inRegisters` and then call
    /// `applyCurve(_:count:)` on what they stored, so the curve's call never has to save the
    /// kernel's live accumulators around it (every vector register is caller-saved).
    public var isCurve: Bool {
        switch self {
        case .silu, .hardSwish, .gelu: return true
        case .none, .relu, .clip: return false
        }
    }

    /// ReLU's and Clip's bounds as vectors, for kernels that clamp a whole tile in registers;
    /// nil for the rest (none, or a curve applied after the store).
    public var clampBounds: (lower: SIMD8<Float>, upper: SIMD8<Float>)? {
        switch self {
        case .relu: return (SIMD8(repeating: 0), SIMD8(repeating: .infinity))
        case .clip(let lo, let hi): return (SIMD8(repeating: lo), SIMD8(repeating: hi))
        case .none, .silu, .hardSwish, .gelu: return nil
        }
    }

    /// The part a kernel applies in registers before its store: all of a clamp, none of a curve.
    public var inRegisters: FusedActivation { isCurve ? .none : self }

    /// The activation on `count` floats in place, eight at a time (a partial last vector by lanes).
    /// One loop per curve with the curve inline, so successive vectors overlap in the core.
    @inline(never)
    public func applyCurve(_ v: UnsafeMutablePointer<Float>, count: Int) {
        applyCurve(v, rows: 1, columns: count, rowStride: count)
    }

    /// The activation in place on `rows` rows of `columns` floats, `rowStride` apart, in each of
    /// `blocks` planes `blockStride` apart. Kernels gather what they stored, while it is still in
    /// L1, into few calls: the core overlaps a curve's long dependency chains only within a call
    /// (EfficientNet-B0 1 % faster than with a call per block and row; a whole band's rows in
    /// one call, beyond L1, measured the same as a row's).
    @inline(never)
    public func applyCurve(_ v: UnsafeMutablePointer<Float>, rows: Int, columns: Int, rowStride: Int,
                           blocks: Int = 1, blockStride: Int = 0) {
        switch self {
        case .silu:
            VectorMath.transform(v, rows: rows, columns: columns, rowStride: rowStride, blocks: blocks, blockStride: blockStride) {
                VectorMath.silu($0)
            }
        case .hardSwish:
            VectorMath.transform(v, rows: rows, columns: columns, rowStride: rowStride, blocks: blocks, blockStride: blockStride) {
                VectorMath.hardSwish($0)
            }
        case .gelu:
            VectorMath.transform(v, rows: rows, columns: columns, rowStride: rowStride, blocks: blocks, blockStride: blockStride) {
                VectorMath.gelu($0)
            }
        case .none, .relu, .clip:
            VectorMath.transform(v, rows: rows, columns: columns, rowStride: rowStride, blocks: blocks, blockStride: blockStride) {
                apply($0)
            }
        }
    }

    @inline(never)
    func applyCurve(_ v: SIMD8<Float>) -> SIMD8<Float> {
        switch self {
        case .none, .relu, .clip: return apply(v)
        case .silu: return VectorMath.silu(v)
        case .hardSwish: return VectorMath.hardSwish(v)
        case .gelu: return VectorMath.gelu(v)
        }
    }
}
