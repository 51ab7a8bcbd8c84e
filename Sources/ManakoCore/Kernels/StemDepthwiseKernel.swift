/// A stem (a convolution of few input channels, `IndirectConvKernel.runBlocked`'s tiles) and the
/// depthwise convolution that reads it, in the channel-blocked layout, with no stem tensor: each
/// thread takes a range of depthwise output rows and walks it in bands, computing the stem rows a
/// band's windows read into a zero-bordered scratch of every channel block (in L2), then running
/// the depthwise microkernel over them. The window rows two bands share move to the scratch's top
/// instead of being computed again, so only the rows where two threads' ranges meet are computed
/// twice. (MobileNetV2's and EfficientNet's 112x112 stems wrote and read back 1.6 MB per image.)
/// Layout: input [N, C, H, W] (C <= 4), stem weights as `IndirectConvKernel.runBlocked`'s,
/// depthwise weights as `BlockedDepthwiseKernel.packWeights`, output [N, M/8, OH, OW, 8].
/// Twin: the two kernels one after the other (`IndirectConvKernel.runBlocked`, `BlockedDepthwiseKernel`).
public enum StemDepthwiseKernel {
    /// The scratch a band's stem rows (every channel block) may take, to stay in L2 with the
    /// input planes' rows.
    static let bandBytes = 160 << 10

    /// y = depthwiseActivation(depthwise(stemActivation(stem(x) + stemBias)) + depthwiseBias):
    /// `stem` the stem's geometry over x, `g` the depthwise convolution's over the stem's output.
    public static func run(_ x: UnsafePointer<Float>, stemWeights: PackedBGemm.PackedB, stemBias: UnsafePointer<Float>?,
                           stem s: WindowGeometry, stemActivation: FusedActivation, depthwise g: WindowGeometry,
                           depthwiseWeights: UnsafePointer<Float>, depthwiseBias: UnsafePointer<Float>?,
                           depthwiseActivation: FusedActivation, into y: UnsafeMutablePointer<Float>) {
        precondition(ExpandDepthwiseKernel.applies(g) && g.inHeight == s.outHeight && g.inWidth == s.outWidth
                     && g.inChannels == stemWeights.columns && stemWeights.columns % ChannelBlocks.width == 0,
                     "a depthwise window with a microkernel over the stem's output")
        let w = ChannelBlocks.width, m = stemWeights.columns, blocks = m / w
        let channels = s.inChannels, depth = channels * s.kernelHeight * s.kernelWidth
        let columnsPerTile = PanelGemm.columnsPerTile, tiles = (m + columnsPerTile - 1) / columnsPerTile
        let shape = BlockedDepthwiseKernel.Microkernel(width: g.kernelWidth, stride: g.strideWidth)!
        let planeWidth = max(g.inWidth + g.padLeft + g.padRight, (g.outWidth - 1) * g.strideWidth + g.kernelWidth)
        let rowFloats = planeWidth * w, windowHeight = (g.kernelHeight - 1) * g.dilationHeight + 1
        // Stem rows a band of b output rows reads: (b - 1) * stride + windowHeight.
        let fitRows = max(windowHeight, bandBytes / (blocks * rowFloats * MemoryLayout<Float>.stride))
        let bandRows = max(1, min(g.outHeight, (fitRows - windowHeight) / g.strideHeight + 1))
        let scratchRows = (bandRows - 1) * g.strideHeight + windowHeight, blockFloats = scratchRows * rowFloats
        let inPlane = s.inHeight * s.inWidth, outPlane = g.outHeight * g.outWidth * w
        let planes = (0..<channels).map { _ in PhasePlane(s, fill: 0) }
        defer { for plane in planes { plane.deallocate() } }
        let rowOffsets = IndirectConvKernel.offsets(planes, taps: s.kernelHeight * s.kernelWidth)
        // One range of rows per thread: only where two ranges meet is a stem row computed twice.
        let parts = Parallel.evenParts(of: g.outHeight, count: Parallel.threads)
        let clamp = stemActivation.clampBounds
        stemWeights.values.withUnsafeBufferPointer { packed in
            rowOffsets.withUnsafeBufferPointer { offsets in
                for image in 0..<g.batch {
                    PhasePlane.load(planes, from: x + image * channels * inPlane)
                    let imageOut = y + image * blocks * outPlane
                    /// Stem row `row` into scratch row `r` of every block (zeros outside the stem's rows).
                    func stemRow(_ row: Int, into scratch: UnsafeMutablePointer<Float>, at r: Int) {
                        guard row >= 0 && row < s.outHeight else {
                            for b in 0..<blocks { (scratch + b * blockFloats + r * rowFloats).update(repeating: 0, count: rowFloats) }
                            return
                        }
                        var ow = 0
                        while ow < s.outWidth {
                            let count = min(PanelGemm.rowsPerPanel, s.outWidth - ow)
                            let origin = UnsafeRawPointer(planes[0].window(row, ow))
                            for t in 0..<tiles {
                                IndirectConvKernel.blockedTile(origin, offsets: offsets.baseAddress!, depth: depth, count: count,
                                                               packed.baseAddress! + t * depth * columnsPerTile, column: t * columnsPerTile,
                                                               width: min(columnsPerTile, m - t * columnsPerTile),
                                                               firstPixel: r * planeWidth + g.padLeft + ow, spatial: blockFloats / w,
                                                               bias: stemBias, clamp: clamp, activation: stemActivation, scratch)
                            }
                            ow += PanelGemm.rowsPerPanel
                        }
                    }
                    Parallel.forEach(parts.count) { part in
                        Scratch.withFloats(blocks * blockFloats) { scratch in
                            // The padding columns stay zero: stem rows write only the interior.
                            scratch.initialize(repeating: 0, count: blocks * blockFloats)
                            var firstRow = parts[part].lowerBound, computedTop = Int.min, computedRows = 0
                            while firstRow < parts[part].upperBound {
                                let endRow = min(parts[part].upperBound, firstRow + bandRows)
                                let top = firstRow * g.strideHeight - g.padTop
                                let rows = (endRow - firstRow - 1) * g.strideHeight + windowHeight
                                // Rows the last band computed that this one reads again move to the top.
                                let kept = computedTop == Int.min ? 0 : max(0, min(rows, computedTop + computedRows - top))
                                if kept > 0 {
                                    for b in 0..<blocks {
                                        let block = UnsafeMutableRawPointer(scratch + b * blockFloats)
                                        block.copyMemory(from: block + (top - computedTop) * rowFloats * MemoryLayout<Float>.stride,
                                                         byteCount: kept * rowFloats * MemoryLayout<Float>.stride)
                                    }
                                }
                                for r in kept..<rows { stemRow(top + r, into: scratch, at: r) }
                                computedTop = top
                                computedRows = rows
                                for b in 0..<blocks {
                                    let filter = depthwiseWeights + b * g.kernelHeight * g.kernelWidth * w
                                    let start = depthwiseBias.map { UnsafeRawPointer($0 + b * w).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
                                    ExpandDepthwiseKernel.depthwiseBand(scratch + b * blockFloats, rowFloats: rowFloats, g, shape,
                                                                        rows: firstRow..<endRow, filter: filter, start: start,
                                                                        activation: depthwiseActivation, into: imageOut + b * outPlane)
                                }
                                firstRow = endRow
                            }
                        }
                    }
                }
            }
        }
    }
}
