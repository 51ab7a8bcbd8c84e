/// Depthwise convolution (one filter per channel), direct and eight output columns at a time.
/// Each input plane is copied once into a zero-padded scratch split into `stride` column phases,
/// so every tap of every stride and dilation is a unit-stride 8-lane load; bias and activation
/// are applied in registers before the store. Layout: input [N, C, H, W], weights [C, 1, KH, KW],
/// output [N, C, OH, OW]. Twin: `ConvKernels.reference` with groups == channels.
public enum DepthwiseKernel {
    public static func run(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry,
                           activation: FusedActivation) -> [Float] {
        let spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        let s = g.strideWidth
        let paddedHeight = g.inHeight + g.padTop + g.padBottom
        let paddedWidth = g.inWidth + g.padLeft + g.padRight
        let vectorColumns = (g.outWidth + 7) / 8 * 8
        // Column c of the padded row lives in phase c % s at position c / s; the width leaves room
        // for the last vector's reads past the real columns (which see zeros).
        let phaseWidth = max((paddedWidth + s - 1) / s, vectorColumns + (g.kernelWidth - 1) * g.dilationWidth / s)
        // Each tap's offset from the window's first element in the scratch.
        let tapOffsets = (0..<taps).map { tap in
            let ki = tap / g.kernelWidth, kj = tap % g.kernelWidth
            return ki * g.dilationHeight * s * phaseWidth + (kj * g.dilationWidth) % s * phaseWidth + kj * g.dilationWidth / s
        }
        // Input columns by phase: the first column landing in phase p, and its position there.
        let phaseStarts = (0..<s).map { p -> (column: Int, position: Int) in
            let column = ((p - g.padLeft) % s + s) % s
            return (column, (column + g.padLeft) / s)
        }
        let planeCount = g.batch * g.inChannels
        return [Float](unsafeUninitializedCapacity: planeCount * spatialOut) { output, initialized in
            input.withUnsafeBufferPointer { xb in
                weights.withUnsafeBufferPointer { wb in
                  tapOffsets.withUnsafeBufferPointer { offsets in
                    let yBase = output.baseAddress!
                    let parts = Parallel.ranges(planeCount)
                    Parallel.forEach(parts.count) { part in
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: paddedHeight * s * phaseWidth)
                        defer { scratch.deallocate() }
                        scratch.initialize(repeating: 0, count: paddedHeight * s * phaseWidth)
                        for plane in parts[part] {
                            let c = plane % g.inChannels
                            let x = xb.baseAddress! + plane * spatialIn
                            for row in 0..<g.inHeight {
                                let source = x + row * g.inWidth
                                let target = scratch + (row + g.padTop) * s * phaseWidth
                                for p in 0..<s {
                                    let phase = target + p * phaseWidth + phaseStarts[p].position
                                    var column = phaseStarts[p].column, k = 0
                                    while column < g.inWidth { phase[k] = source[column]; column += s; k += 1 }
                                }
                            }
                            let w = wb.baseAddress! + c * taps
                            let start = SIMD8<Float>(repeating: bias?[c] ?? 0)
                            let y = yBase + plane * spatialOut
                            for oh in 0..<g.outHeight {
                                var ow = 0
                                while ow < g.outWidth {
                                    var sum = start
                                    let window = scratch + oh * g.strideHeight * s * phaseWidth + ow
                                    for tap in 0..<taps {
                                        let v = UnsafeRawPointer(window + offsets[tap]).loadUnaligned(as: SIMD8<Float>.self)
                                        sum.addProduct(SIMD8(repeating: w[tap]), v)
                                    }
                                    sum = activation.apply(sum)
                                    let out = y + oh * g.outWidth + ow
                                    if ow + 8 <= g.outWidth {
                                        UnsafeMutableRawPointer(out).storeBytes(of: sum, as: SIMD8<Float>.self)
                                    } else {
                                        for k in 0..<(g.outWidth - ow) { (out + k).initialize(to: sum[k]) }
                                    }
                                    ow += 8
                                }
                            }
                        }
                    }
                  }
                }
            }
            initialized = planeCount * spatialOut
        }
    }
}
