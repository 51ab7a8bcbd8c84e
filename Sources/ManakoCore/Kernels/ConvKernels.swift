import CBLAS

/// 2-D convolution kernels. Layout: input NCHW, weights [M, C/group, KH, KW], output NCHW.
public enum ConvKernels {
    /// Depthwise and few-channel (`IndirectConvKernel`) convolutions take their own kernels.
    /// General path: per image and group, im2col into a [C/g*KH*KW, OH*OW] matrix (1x1 stride-1
    /// unpadded convolutions use the input as it is), then the panel GEMM with bias, residual and
    /// activation in its epilogue. `packed` holds the weights packed per group (packed now if nil).
    public static func convolve(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry,
                                outChannels: Int, groups: Int, activation: FusedActivation = .none,
                                residual: [Float]? = nil, packed: [PanelGemm.PackedA]? = nil) -> [Float] {
        let cPerGroup = g.inChannels / groups
        let mPerGroup = outChannels / groups
        if groups == g.inChannels && groups == outChannels && residual == nil {
            return DepthwiseKernel.run(input: input, weights: weights, bias: bias, geometry: g, activation: activation)
        }
        let spatialOut = g.outHeight * g.outWidth
        let spatialIn = g.inHeight * g.inWidth
        let patch = cPerGroup * g.kernelHeight * g.kernelWidth
        let pointwise = g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1
            && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
        let panels = packed ?? packWeights(weights, outChannels: outChannels, groups: groups, patch: patch)
        let total = g.batch * outChannels * spatialOut
        if IndirectConvKernel.fits(g, groups: groups) {
            return BufferPool.floats(total) { output in
                input.withUnsafeBufferPointer { x in
                    bias.withOptionalPointer { biasPointer in
                        residual.withOptionalPointer { residualPointer in
                            IndirectConvKernel.run(input: x.baseAddress!, packed: panels[0], bias: biasPointer, residual: residualPointer,
                                                   geometry: g, activation: activation, into: output.baseAddress!)
                        }
                    }
                }
            }
        }
        // Every element is written by im2col before it is read (Float needs no initialisation).
        let columnCount = pointwise ? 0 : patch * spatialOut
        var columns = BufferPool.floats(columnCount) { _ in }
        defer { BufferPool.recycle(columns) }
        return BufferPool.floats(total) { output in
            input.withUnsafeBufferPointer { x in
                let y = output.baseAddress!
                for n in 0..<g.batch {
                    for group in 0..<groups {
                        let xGroup = x.baseAddress! + (n * g.inChannels + group * cPerGroup) * spatialIn
                        let offset = (n * outChannels + group * mPerGroup) * spatialOut
                        func multiply(_ source: UnsafePointer<Float>) {
                            bias.withOptionalPointer { biasPointer in
                                residual.withOptionalPointer { residualPointer in
                                    PanelGemm.multiply(panels[group], source, columns: spatialOut,
                                                       bias: biasPointer.map { $0 + group * mPerGroup },
                                                       residual: residualPointer.map { $0 + offset },
                                                       activation: activation, into: y + offset)
                                }
                            }
                        }
                        if pointwise {
                            multiply(xGroup)
                        } else {
                            columns.withUnsafeMutableBufferPointer { col in
                                im2col(xGroup, channels: cPerGroup, geometry: g, into: col.baseAddress!)
                                multiply(col.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Weights [M, C/g, KH, KW] as one packed GEMM operand per group.
    public static func packWeights(_ weights: [Float], outChannels: Int, groups: Int, patch: Int) -> [PanelGemm.PackedA] {
        let mPerGroup = outChannels / groups
        return weights.withUnsafeBufferPointer { w in
            (0..<groups).map { group in
                PanelGemm.PackedA(w.baseAddress! + group * mPerGroup * patch, rows: mPerGroup, depth: patch, rowStride: patch)
            }
        }
    }

    /// Unfolds the receptive fields of one image's channels into columns: row (c, ki, kj), column (oh, ow).
    /// Per row the in-bounds output columns form one range, so each output row is zeros, a copy
    /// (strided when the stride is not 1) and zeros: no per-element bounds tests. Rows are split
    /// across threads by channel.
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, geometry g: WindowGeometry, into col: UnsafeMutablePointer<Float>) {
        let spatialOut = g.outHeight * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        // Per kernel column: input column offset and the valid output columns [lo, hi).
        let ranges = (0..<g.kernelWidth).map { kj -> (offset: Int, lo: Int, hi: Int) in
            let offset = kj * g.dilationWidth - g.padLeft
            let lo = min(g.outWidth, offset < 0 ? (-offset + g.strideWidth - 1) / g.strideWidth : 0)
            let hi = g.inWidth - 1 - offset >= 0 ? min(g.outWidth, (g.inWidth - 1 - offset) / g.strideWidth + 1) : 0
            return (offset, lo, max(lo, hi))
        }
        let parts = Parallel.ranges(channels)
        Parallel.forEach(parts.count) { part in
            for c in parts[part] {
                let plane = x + c * g.inHeight * g.inWidth
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        let dst = col + (c * taps + ki * g.kernelWidth + kj) * spatialOut
                        let (offset, lo, hi) = ranges[kj]
                        for oh in 0..<g.outHeight {
                            let ih = oh * g.strideHeight - g.padTop + ki * g.dilationHeight
                            let line = dst + oh * g.outWidth
                            if ih < 0 || ih >= g.inHeight {
                                line.update(repeating: 0, count: g.outWidth)
                                continue
                            }
                            let src = plane + ih * g.inWidth + offset
                            line.update(repeating: 0, count: lo)
                            if g.strideWidth == 1 {
                                (line + lo).update(from: src + lo, count: hi - lo)
                            } else {
                                let s = g.strideWidth
                                for ow in lo..<hi { line[ow] = src[ow * s] }
                            }
                            (line + hi).update(repeating: 0, count: g.outWidth - hi)
                        }
                    }
                }
            }
        }
    }

    /// Plain seven-loop twin of `convolve`, for tests.
    public static func reference(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry,
                                 outChannels: Int, groups: Int) -> [Float] {
        let cPerGroup = g.inChannels / groups
        let mPerGroup = outChannels / groups
        var output = [Float](repeating: 0, count: g.batch * outChannels * g.outHeight * g.outWidth)
        for n in 0..<g.batch {
            for m in 0..<outChannels {
                let group = m / mPerGroup
                for oh in 0..<g.outHeight {
                    for ow in 0..<g.outWidth {
                        var sum: Float = bias?[m] ?? 0
                        for c in 0..<cPerGroup {
                            let ic = group * cPerGroup + c
                            for ki in 0..<g.kernelHeight {
                                for kj in 0..<g.kernelWidth {
                                    let ih = oh * g.strideHeight - g.padTop + ki * g.dilationHeight
                                    let iw = ow * g.strideWidth - g.padLeft + kj * g.dilationWidth
                                    guard ih >= 0, ih < g.inHeight, iw >= 0, iw < g.inWidth else { continue }
                                    let xv = input[((n * g.inChannels + ic) * g.inHeight + ih) * g.inWidth + iw]
                                    let wv = weights[((m * cPerGroup + c) * g.kernelHeight + ki) * g.kernelWidth + kj]
                                    sum += xv * wv
                                }
                            }
                        }
                        output[((n * outChannels + m) * g.outHeight + oh) * g.outWidth + ow] = sum
                    }
                }
            }
        }
        return output
    }
}

extension Optional where Wrapped: ContiguousFloats {
    /// Calls `body` with the floats' base address, or nil.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let floats): return floats.withUnsafeFloats { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
