import CManakoSIMD

/// Window pooling over NCHW planes: for each output position, reduce the window's in-bounds taps.
/// Layout: input [N, C, H, W], output [N, C, OH, OW].
public enum PoolKernels {
    public enum Kind: Sendable { case max, average, averageIncludingPad }

    public static func pool(_ input: [Float], _ g: WindowGeometry, kind: Kind) -> [Float] {
        if kind == .max { return vectorPool(input, g, average: false) }
        // Averages take the vector path when every window lies wholly inside the input (one divisor).
        let inside = g.padTop == 0 && g.padLeft == 0
            && (g.outHeight - 1) * g.strideHeight + (g.kernelHeight - 1) * g.dilationHeight < g.inHeight
            && (g.outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth < g.inWidth
        if inside { return vectorPool(input, g, average: true) }
        return reference(input, g, kind: kind)
    }

    /// Max (or whole-window average) pooling eight output columns at a time over a padded
    /// `PhasePlane` (planes split across threads).
    static func vectorPool(_ input: [Float], _ g: WindowGeometry, average: Bool) -> [Float] {
        let divisor = 1 / Float(g.kernelHeight * g.kernelWidth)
        let planeCount = g.batch * g.inChannels
        let spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        return BufferPool.floats(planeCount * spatialOut) { output in
            input.withUnsafeBufferPointer { xb in
                let yBase = output.baseAddress!
                let parts = Parallel.ranges(planeCount)
                Parallel.forEach(parts.count) { part in
                    let scratch = PhasePlane(g, fill: average ? 0 : -.infinity)
                    defer { scratch.deallocate() }
                    scratch.tapOffsets.withUnsafeBufferPointer { offsets in
                        for plane in parts[part] {
                            scratch.load(xb.baseAddress! + plane * spatialIn)
                            for oh in 0..<g.outHeight {
                                scratch.forEachVector(row: oh, into: yBase + plane * spatialOut) { window in
                                    if average {
                                        var sum = SIMD8<Float>()
                                        for offset in offsets { sum += UnsafeRawPointer(window + offset).loadUnaligned(as: SIMD8<Float>.self) }
                                        return sum * divisor
                                    }
                                    var best = SIMD8<Float>(repeating: -.infinity)
                                    for offset in offsets {
                                        let v = UnsafeRawPointer(window + offset).loadUnaligned(as: SIMD8<Float>.self)
                                        best = mk_max(v, best)
                                    }
                                    return best
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Plain twin (and the average-pooling path): each window's in-bounds taps, one by one.
    public static func reference(_ input: [Float], _ g: WindowGeometry, kind: Kind) -> [Float] {
        let planes = g.batch * g.inChannels
        let spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        var output = [Float](repeating: 0, count: planes * spatialOut)
        input.withUnsafeBufferPointer { xb in
            output.withUnsafeMutableBufferPointer { yb in
                for p in 0..<planes {
                    let x = xb.baseAddress! + p * spatialIn
                    let y = yb.baseAddress! + p * spatialOut
                    for oh in 0..<g.outHeight {
                        let h0 = oh * g.strideHeight - g.padTop
                        for ow in 0..<g.outWidth {
                            let w0 = ow * g.strideWidth - g.padLeft
                            var best = -Float.infinity, sum: Float = 0, taps = 0
                            for ki in 0..<g.kernelHeight {
                                let ih = h0 + ki * g.dilationHeight
                                if ih < 0 || ih >= g.inHeight { continue }
                                for kj in 0..<g.kernelWidth {
                                    let iw = w0 + kj * g.dilationWidth
                                    if iw < 0 || iw >= g.inWidth { continue }
                                    let v = x[ih * g.inWidth + iw]
                                    best = max(best, v)
                                    sum += v
                                    taps += 1
                                }
                            }
                            let value: Float
                            switch kind {
                            case .max: value = best
                            case .average: value = taps > 0 ? sum / Float(taps) : 0
                            case .averageIncludingPad:
                                // Window clipped to input plus declared padding (not the ceil-mode overhang).
                                let hEnd = min(h0 + (g.kernelHeight - 1) * g.dilationHeight + 1, g.inHeight + g.padBottom)
                                let wEnd = min(w0 + (g.kernelWidth - 1) * g.dilationWidth + 1, g.inWidth + g.padRight)
                                let rows = (hEnd - h0 + g.dilationHeight - 1) / g.dilationHeight
                                let cols = (wEnd - w0 + g.dilationWidth - 1) / g.dilationWidth
                                value = sum / Float(max(rows * cols, 1))
                            }
                            y[oh * g.outWidth + ow] = value
                        }
                    }
                }
            }
        }
        return output
    }
}
