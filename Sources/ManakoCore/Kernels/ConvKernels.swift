import CBLAS

/// 2-D convolution kernels. Layout: input NCHW, weights [M, C/group, KH, KW], output NCHW.
public enum ConvKernels {
    /// General path: per image and group, im2col into a [C/g*KH*KW, OH*OW] matrix, then one SGEMM
    /// with the group's weights; 1x1 stride-1 unpadded convolutions skip im2col.
    public static func convolve(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry,
                                outChannels: Int, groups: Int) -> [Float] {
        let cPerGroup = g.inChannels / groups
        let mPerGroup = outChannels / groups
        if groups == g.inChannels && groups == outChannels {
            return depthwise(input: input, weights: weights, bias: bias, geometry: g)
        }
        let spatialOut = g.outHeight * g.outWidth
        let spatialIn = g.inHeight * g.inWidth
        let patch = cPerGroup * g.kernelHeight * g.kernelWidth
        let pointwise = g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1 && g.strideWidth == 1
            && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
        var output = [Float](repeating: 0, count: g.batch * outChannels * spatialOut)
        var columns = [Float](repeating: 0, count: pointwise ? 0 : patch * spatialOut)
        input.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    for n in 0..<g.batch {
                        for group in 0..<groups {
                            let xGroup = x.baseAddress! + (n * g.inChannels + group * cPerGroup) * spatialIn
                            let yGroup = y.baseAddress! + (n * outChannels + group * mPerGroup) * spatialOut
                            if let bias {
                                for m in 0..<mPerGroup {
                                    let value = bias[group * mPerGroup + m]
                                    (yGroup + m * spatialOut).update(repeating: value, count: spatialOut)
                                }
                            }
                            let wGroup = w.baseAddress! + group * mPerGroup * patch
                            // Rows of the output (filters) split across threads; each row's sum is
                            // computed by one SGEMM call whatever the split.
                            let blocks = Parallel.ranges(mPerGroup)
                            func multiply(_ source: UnsafePointer<Float>) {
                                Parallel.forEach(blocks.count) { b in
                                    let rows = blocks[b]
                                    GemmKernel.sgemm(transA: false, transB: false, m: rows.count, n: spatialOut, k: patch,
                                                     alpha: 1, a: wGroup + rows.lowerBound * patch, lda: patch, b: source, ldb: spatialOut,
                                                     beta: bias == nil ? 0 : 1, c: yGroup + rows.lowerBound * spatialOut, ldc: spatialOut)
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
        return output
    }

    /// Unfolds the receptive fields of one image's channels into columns: row (c, ki, kj), column (oh, ow).
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, geometry g: WindowGeometry, into col: UnsafeMutablePointer<Float>) {
        let spatialOut = g.outHeight * g.outWidth
        var row = 0
        for c in 0..<channels {
            let plane = x + c * g.inHeight * g.inWidth
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let dst = col + row * spatialOut
                    for oh in 0..<g.outHeight {
                        let ih = oh * g.strideHeight - g.padTop + ki * g.dilationHeight
                        let line = dst + oh * g.outWidth
                        if ih < 0 || ih >= g.inHeight {
                            line.update(repeating: 0, count: g.outWidth)
                            continue
                        }
                        let src = plane + ih * g.inWidth
                        var iw = kj * g.dilationWidth - g.padLeft
                        for ow in 0..<g.outWidth {
                            line[ow] = (iw >= 0 && iw < g.inWidth) ? src[iw] : 0
                            iw += g.strideWidth
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Depthwise convolution (one filter per channel) as row AXPYs: each output row starts at
    /// the bias, then every tap adds weight * input over the contiguous run of output columns
    /// whose input column exists (vectorised by the compiler at stride 1). Weights [C, 1, KH, KW].
    public static func depthwise(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry) -> [Float] {
        let spatialOut = g.outHeight * g.outWidth
        let spatialIn = g.inHeight * g.inWidth
        let taps = g.kernelHeight * g.kernelWidth
        // Per kernel column: input column offset and the valid output columns [lo, hi).
        let columns = (0..<g.kernelWidth).map { kj -> (offset: Int, lo: Int, hi: Int) in
            let offset = kj * g.dilationWidth - g.padLeft
            let lo = offset < 0 ? (-offset + g.strideWidth - 1) / g.strideWidth : 0
            let hi = g.inWidth - 1 - offset >= 0 ? min(g.outWidth, (g.inWidth - 1 - offset) / g.strideWidth + 1) : 0
            return (offset, lo, max(lo, hi))
        }
        var output = [Float](repeating: 0, count: g.batch * g.inChannels * spatialOut)
        input.withUnsafeBufferPointer { xb in
            weights.withUnsafeBufferPointer { wb in
                output.withUnsafeMutableBufferPointer { yb in
                    let planes = Parallel.ranges(g.batch * g.inChannels)
                    Parallel.forEach(planes.count) { part in
                        for plane in planes[part] {
                            let c = plane % g.inChannels
                            let x = xb.baseAddress! + plane * spatialIn
                            let y = yb.baseAddress! + plane * spatialOut
                            let w = wb.baseAddress! + c * taps
                            y.update(repeating: bias?[c] ?? 0, count: spatialOut)
                            for oh in 0..<g.outHeight {
                                let yRow = y + oh * g.outWidth
                                for ki in 0..<g.kernelHeight {
                                    let ih = oh * g.strideHeight - g.padTop + ki * g.dilationHeight
                                    if ih < 0 || ih >= g.inHeight { continue }
                                    let xRow = x + ih * g.inWidth
                                    for (kj, column) in columns.enumerated() where column.lo < column.hi {
                                        let weight = w[ki * g.kernelWidth + kj]
                                        if g.strideWidth == 1 {
                                            let source = xRow + column.offset
                                            for ow in column.lo..<column.hi { yRow[ow] += weight * source[ow] }
                                        } else {
                                            let stride = g.strideWidth
                                            for ow in column.lo..<column.hi { yRow[ow] += weight * xRow[ow * stride + column.offset] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
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
