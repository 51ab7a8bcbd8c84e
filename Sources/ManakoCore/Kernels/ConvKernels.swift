import CBLAS

/// 2-D convolution kernels. Layout: input NCHW, weights [M, C/group, KH, KW], output NCHW.
public enum ConvKernels {
    /// General path: per image and group, im2col into a [C/g*KH*KW, OH*OW] matrix, then one SGEMM
    /// with the group's weights; 1x1 stride-1 unpadded convolutions skip im2col.
    public static func convolve(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry,
                                outChannels: Int, groups: Int, activation: FusedActivation = .none) -> [Float] {
        let cPerGroup = g.inChannels / groups
        let mPerGroup = outChannels / groups
        if groups == g.inChannels && groups == outChannels {
            return DepthwiseKernel.run(input: input, weights: weights, bias: bias, geometry: g, activation: activation)
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
                                    // Activation while the block is still in cache.
                                    activation.apply(yGroup + rows.lowerBound * spatialOut, count: rows.count * spatialOut)
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
