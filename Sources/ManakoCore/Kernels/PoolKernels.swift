import CManakoSIMD

/// Window pooling over NCHW planes: for each output position, reduce the window's in-bounds taps.
/// Layout: input [N, C, H, W], output [N, C, OH, OW].
public enum PoolKernels {
    public enum Kind: Sendable { case max, average, averageIncludingPad }

    public static func pool(_ input: [Float], _ g: WindowGeometry, kind: Kind) -> [Float] {
        if kind == .max { return vectorPool(input, g, average: false) }
        // Averages sum over the zero-padded plane, then scale each window by 1 / its tap count,
        // which is a row factor times a column factor: in the vector pass when every window has
        // the same count, in a second pass over each row otherwise.
        let rows = (0..<g.outHeight).map { tapCount($0, stride: g.strideHeight, pad: g.padTop, kernel: g.kernelHeight,
                                                     dilation: g.dilationHeight, size: g.inHeight, endPad: g.padBottom, kind: kind) }
        let columns = (0..<g.outWidth).map { tapCount($0, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth,
                                                        dilation: g.dilationWidth, size: g.inWidth, endPad: g.padRight, kind: kind) }
        let uniform = Set(rows).count <= 1 && Set(columns).count <= 1
        let count = max(1, (rows.first ?? 1) * (columns.first ?? 1))
        var output = vectorPool(input, g, average: true, scale: uniform ? 1 / Float(count) : 1)
        if uniform { return output }
        output.withUnsafeMutableBufferPointer { y in
            var factors = [Float](repeating: 0, count: g.outWidth)
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth { factors[ow] = 1 / Float(max(1, rows[oh] * columns[ow])) }
                for plane in 0..<(g.batch * g.inChannels) {
                    let row = y.baseAddress! + (plane * g.outHeight + oh) * g.outWidth
                    for ow in 0..<g.outWidth { row[ow] *= factors[ow] }
                }
            }
        }
        return output
    }

    /// How many taps of output position `o`'s window along one axis count towards its average:
    /// those inside the input, or (`averageIncludingPad`) those inside the input and its declared
    /// padding.
    static func tapCount(_ o: Int, stride: Int, pad: Int, kernel: Int, dilation: Int, size: Int, endPad: Int, kind: Kind) -> Int {
        let start = o * stride - pad
        if kind == .averageIncludingPad {
            let end = min(start + (kernel - 1) * dilation + 1, size + endPad)
            return (end - start + dilation - 1) / dilation
        }
        return (0..<kernel).filter { (0..<size).contains(start + $0 * dilation) }.count
    }

    /// Max pooling, or window sums times `scale` for averages, eight output columns at a time over a padded
    /// `PhasePlane` (planes split across threads).
    static func vectorPool(_ input: [Float], _ g: WindowGeometry, average: Bool, scale: Float = 1) -> [Float] {
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
                                        return sum * scale
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
