import CManakoSIMD

/// Depthwise convolution (one filter per channel), direct and eight output columns at a time.
/// Each input plane is copied once into a zero-padded `PhasePlane`, so every tap of every stride
/// and dilation is a unit-stride 8-lane load; bias and activation are applied in registers before
/// the store. Layout: input [N, C, H, W], weights [C, 1, KH, KW], output [N, C, OH, OW].
/// Twin: `ConvKernels.reference` with groups == channels.
public enum DepthwiseKernel {
    public static func run(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry,
                           activation: FusedActivation) -> [Float] {
        let spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        let planeCount = g.batch * g.inChannels
        return BufferPool.floats(planeCount * spatialOut) { output in
            input.withUnsafeBufferPointer { xb in
                weights.withUnsafeBufferPointer { wb in
                    let yBase = output.baseAddress!
                    let parts = Parallel.ranges(planeCount)
                    Parallel.forEach(parts.count) { part in
                        let scratch = PhasePlane(g, fill: 0)
                        defer { scratch.deallocate() }
                        scratch.tapOffsets.withUnsafeBufferPointer { offsets in
                            for plane in parts[part] {
                                let c = plane % g.inChannels
                                scratch.load(xb.baseAddress! + plane * spatialIn)
                                let w = wb.baseAddress! + c * taps
                                let start = SIMD8<Float>(repeating: bias?[c] ?? 0)
                                for oh in 0..<g.outHeight {
                                    // Sixteen columns as two independent FMA chains (one chain is latency-bound).
                                    scratch.forEachVectorPair(row: oh, into: yBase + plane * spatialOut, { window in
                                        var first = start, second = start
                                        for tap in 0..<taps {
                                            let source = UnsafeRawPointer(window + offsets[tap])
                                            let weight = SIMD8<Float>(repeating: w[tap])
                                            first = mk_multiply_add(weight, source.loadUnaligned(as: SIMD8<Float>.self), first)
                                            second = mk_multiply_add(weight, source.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), second)
                                        }
                                        return (activation.apply(first), activation.apply(second))
                                    }, { window in
                                        var sum = start
                                        for tap in 0..<taps {
                                            let v = UnsafeRawPointer(window + offsets[tap]).loadUnaligned(as: SIMD8<Float>.self)
                                            sum = mk_multiply_add(SIMD8(repeating: w[tap]), v, sum)
                                        }
                                        return activation.apply(sum)
                                    })
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
