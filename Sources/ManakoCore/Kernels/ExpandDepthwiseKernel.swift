import CManakoSIMD

/// A 1x1 expansion and the depthwise convolution that reads it, in the channel-blocked layout,
/// with no expanded tensor: per tile of sixteen expanded channels and band of output rows, the
/// expanded rows the band's windows read go into a zero-bordered scratch (the blocked GEMM's
/// tile over each input row, read in place), and the depthwise microkernel runs over them while
/// they are in cache; threads split the bands. (MobileNet's first blocks wrote and read back
/// 2-5 MB per image there.) Rows two bands share are computed by both.
/// Layout: input [N, C/8, H, W, 8], expansion weights as `BlockedGemmConvKernel.packWeights`
/// (E filters of C), depthwise weights as `BlockedDepthwiseKernel.packWeights`, output
/// [N, E/8, OH, OW, 8].
/// Twin: the two kernels one after the other (`BlockedGemmConvKernel`, `BlockedDepthwiseKernel`).
public enum ExpandDepthwiseKernel {
    /// Whether the depthwise window of `g` (over the expanded channels) has a microkernel and
    /// rows of at least four outputs.
    public static func applies(_ g: WindowGeometry) -> Bool {
        g.dilationWidth == 1 && g.outWidth >= 4 && g.outHeight >= 1
            && BlockedDepthwiseKernel.Microkernel(width: g.kernelWidth, stride: g.strideWidth) != nil
    }

    /// The scratch a band's expanded rows (two blocks) may take, to stay in L2 with the input rows.
    static let bandBytes = 128 << 10

    /// y = depthwiseActivation(depthwise(expandActivation(expand(x) + expandBias)) + depthwiseBias),
    /// `g` the depthwise convolution's geometry over the expanded channels.
    public static func run(_ x: UnsafePointer<Float>, expandWeights: PackedBGemm.PackedB, expandBias: UnsafePointer<Float>?,
                           expandActivation: FusedActivation, depthwise g: WindowGeometry, depthwiseWeights: UnsafePointer<Float>,
                           depthwiseBias: UnsafePointer<Float>?, depthwiseActivation: FusedActivation,
                           into y: UnsafeMutablePointer<Float>) {
        precondition(applies(g) && g.inChannels == expandWeights.columns, "the depthwise window needs a microkernel")
        let w = ChannelBlocks.width, k = expandWeights.depth, e = expandWeights.columns
        let columnsPerTile = PanelGemm.columnsPerTile, tiles = (e + columnsPerTile - 1) / columnsPerTile
        let shape = BlockedDepthwiseKernel.Microkernel(width: g.kernelWidth, stride: g.strideWidth)!
        let planeWidth = max(g.inWidth + g.padLeft + g.padRight, (g.outWidth - 1) * g.strideWidth + g.kernelWidth)
        let rowFloats = planeWidth * w, windowHeight = (g.kernelHeight - 1) * g.dilationHeight + 1
        let fitRows = max(windowHeight, bandBytes / (2 * rowFloats * MemoryLayout<Float>.stride))
        let fittingRows = max(1, min(g.outHeight, (fitRows - windowHeight) / g.strideHeight + 1))
        var bands = (g.outHeight + fittingRows - 1) / fittingRows
        // On several threads an image's rows make (as nearly as whole rows of a band allow) a
        // multiple of the thread count of bands, and the work items run band by band: each thread takes whole bands of every tile (the first
        // thread the top rows), as the 1x1 layers around take ranges of pixels, so little of the
        // output crosses between cores (tile by tile, half of it did: MobileNetV2 2 % faster on
        // two threads 230 ns apart).
        let threads = Parallel.threads
        if threads > 1 && g.batch == 1 && g.outHeight >= 4 * threads { bands = (bands + threads - 1) / threads * threads }
        let bandRows = (g.outHeight + bands - 1) / bands
        bands = (g.outHeight + bandRows - 1) / bandRows
        let maxRows = (bandRows - 1) * g.strideHeight + windowHeight
        let inPlane = g.inHeight * g.inWidth * w, outPlane = g.outHeight * g.outWidth * w, taps = g.kernelHeight * g.kernelWidth
        let panels = (g.inWidth + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        // Each step of eight k is an input block; a row's pixels are eight floats apart.
        let steps = (0..<(k / w)).map { $0 * inPlane }
        let row = BlockedGemmConvKernel.Window(rowStep: 0, columnStep: w, outWidth: g.inWidth, blockStride: 0)
        let clamp = expandActivation.clampBounds
        steps.withUnsafeBufferPointer { steps in
            expandWeights.values.withUnsafeBufferPointer { packed in
                Parallel.forEach(g.batch * tiles * bands) { item in
                    let t = item % tiles, band = item / tiles % bands, image = item / tiles / bands
                    let blocks = min(columnsPerTile, e - t * columnsPerTile) / w
                    let firstRow = band * bandRows, endRow = min(g.outHeight, firstRow + bandRows)
                    let top = firstRow * g.strideHeight - g.padTop, rows = (endRow - firstRow - 1) * g.strideHeight + windowHeight
                    let blockFloats = maxRows * rowFloats
                    let imageX = x + image * (k / w) * inPlane
                    Scratch.withFloats(2 * blockFloats, 2 * panels * PanelGemm.rowsPerPanel) { plane, offsetRoom in
                        let pixelOffsets = UnsafeMutableRawPointer(offsetRoom).bindMemory(to: Int.self, capacity: panels * PanelGemm.rowsPerPanel)
                        row.offsets(from: 0, count: panels * PanelGemm.rowsPerPanel, last: g.inWidth - 1, into: pixelOffsets)
                        for r in 0..<rows {
                            let ih = top + r, target = plane + r * rowFloats
                            guard ih >= 0 && ih < g.inHeight else {
                                for b in 0..<blocks { (target + b * blockFloats).initialize(repeating: 0, count: rowFloats) }
                                continue
                            }
                            for b in 0..<blocks {
                                (target + b * blockFloats).initialize(repeating: 0, count: g.padLeft * w)
                                (target + b * blockFloats + (g.padLeft + g.inWidth) * w)
                                    .initialize(repeating: 0, count: (planeWidth - g.padLeft - g.inWidth) * w)
                            }
                            // Input row ih expanded for this tile, past the band row's left border.
                            expandRow(imageX + ih * g.inWidth * w, pixels: g.inWidth, pixelOffsets: pixelOffsets, steps: steps.baseAddress!,
                                      weights: expandWeights, packed: packed.baseAddress!, tile: t, column: 0,
                                      bias: expandBias.map { $0 + t * columnsPerTile }, clamp: clamp, spatial: blockFloats / w,
                                      into: target + g.padLeft * w)
                            // The curve over the row while it is in L1, its blocks in one call (see `applyCurve`).
                            if expandActivation.isCurve {
                                expandActivation.applyCurve(target + g.padLeft * w, rows: 1, columns: g.inWidth * w, rowStride: 0,
                                                            blocks: blocks, blockStride: blockFloats)
                            }
                        }
                        // The band's depthwise windows, block by block.
                        for b in 0..<blocks {
                            let channelBlock = t * columnsPerTile / w + b
                            let filter = depthwiseWeights + channelBlock * taps * w
                            let start = depthwiseBias.map { UnsafeRawPointer($0 + channelBlock * w).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
                            depthwiseBand(plane + b * blockFloats, rowFloats: rowFloats, g, shape, rows: firstRow..<endRow,
                                          filter: filter, start: start, activation: depthwiseActivation,
                                          into: y + (image * (e / w) + channelBlock) * outPlane + firstRow * g.outWidth * w)
                        }
                    }
                }
            }
        }
    }

    /// One input row of blocked X (`pixels` pixels at `pixelOffsets`, its channel blocks at
    /// `steps`) through the 1x1 weights' 16-column tile `tile`, slice by slice of k, clamped after
    /// the last: the tile's sums start from `bias + column` and go to `y + column * spatial`
    /// (blocks `spatial` pixels apart). A curve is the caller's.
    @inline(__always)
    static func expandRow(_ x: UnsafePointer<Float>, pixels: Int, pixelOffsets: UnsafePointer<Int>, steps: UnsafePointer<Int>,
                          weights: PackedBGemm.PackedB, packed: UnsafePointer<Float>, tile t: Int, column: Int,
                          bias: UnsafePointer<Float>?, clamp: (lower: SIMD8<Float>, upper: SIMD8<Float>)?, spatial: Int,
                          into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, k = weights.depth, columnsPerTile = PanelGemm.columnsPerTile
        let tiles = (weights.columns + columnsPerTile - 1) / columnsPerTile
        let panels = (pixels + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        var k0 = 0
        while k0 < k {
            let d = min(weights.sliceDepth, k - k0)
            let out = BlockedGemmConvKernel.PanelsOut(
                firstPanel: 0, endPanel: panels, pixels: pixels, spatial: spatial, column: column,
                width: min(columnsPerTile, weights.columns - t * columnsPerTile), accumulate: k0 > 0, bias: k0 > 0 ? nil : bias,
                residual: nil, clamp: k0 + d == k ? clamp : nil, y: y)
            BlockedGemmConvKernel.tilePass(x, pixelOffsets: pixelOffsets, steps: steps + k0 / w, stepCount: d / w,
                                           packed + k0 * tiles * columnsPerTile + t * d * columnsPerTile, out)
            k0 += d
        }
    }

    /// The row of a ring of `ring` rows that holds input row `row` (which may be negative: padding).
    @inline(__always)
    static func ringRow(_ row: Int, of ring: Int) -> Int {
        let slot = row % ring
        return slot < 0 ? slot + ring : slot
    }

    /// The depthwise windows of output rows `rows` of one channel block, over `plane`: a
    /// zero-bordered scratch whose row 0 is input row `rows.lowerBound * strideHeight - padTop`
    /// (or, with `ring`, a ring of that many rows holding input row i at row i mod ring) and
    /// column 0 the left padding's first, rows `rowFloats` apart. Output row `rows.lowerBound`
    /// goes to `output`, the next ones `outWidth * 8` floats on.
    @inline(__always)
    static func depthwiseBand(_ plane: UnsafePointer<Float>, rowFloats: Int, ring: Int? = nil, _ g: WindowGeometry,
                              _ shape: BlockedDepthwiseKernel.Microkernel, rows: Range<Int>, filter: UnsafePointer<Float>,
                              start: SIMD8<Float>, activation: FusedActivation, into output: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width
        withUnsafeTemporaryAllocation(of: Int.self, capacity: g.kernelHeight) { rowOffsets in
            for oh in rows {
                // In a ring, the window's rows wherever it holds them (they may wrap around its end).
                if let ring {
                    for ky in 0..<g.kernelHeight {
                        rowOffsets[ky] = ringRow(oh * g.strideHeight - g.padTop + ky * g.dilationHeight, of: ring) * rowFloats
                    }
                }
                let rowStart = ring == nil ? plane + (oh - rows.lowerBound) * g.strideHeight * rowFloats : plane
                let offsets = ring == nil ? nil : UnsafePointer(rowOffsets.baseAddress!)
                let rowOut = (oh - rows.lowerBound) * g.outWidth * w
                BlockedDepthwiseKernel.inGroups(0..<g.outWidth) { ow, count in
                    BlockedDepthwiseKernel.microkernel(rowStart + ow * g.strideWidth * w, rowStride: g.dilationHeight * rowFloats,
                                                       rowOffsets: offsets, rows: Int32(g.kernelHeight), weights: filter, start, shape,
                                                       pixels: count, residual: nil, activation: activation.inRegisters, output,
                                                       offset: rowOut + ow * w)
                }
            }
        }
        // One call for the band: a call per row drained the curve's dependency chains each time.
        if activation.isCurve { activation.applyCurve(output, count: rows.count * g.outWidth * w) }
    }
}
