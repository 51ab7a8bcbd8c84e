/// Convolution with few input channels (the RGB stems of every CNN) as a GEMM whose B is never
/// built: each input channel is loaded once into a padded, phase-split `PhasePlane`, where for any
/// tap, stride and dilation sixteen consecutive outputs of a row read sixteen consecutive floats;
/// a table of per-k byte offsets (k = channel, tap) replaces im2col's copy and GEMM's packing.
/// The 6x16 tiles are PanelGemm's, with A its packed weights; rows split across threads.
/// Layout: input [N, C, H, W], weights packed [M/6][C*KH*KW][6], output [N, M, OH, OW].
/// Twin: `ConvKernels.reference`.
public enum IndirectConvKernel {
    /// Up to this many input channels the planes of one image stay small (three 224x224 planes
    /// are 0.6 MB) and im2col's copy would cost more than the products.
    static let maxChannels = 4

    static func fits(_ g: WindowGeometry, groups: Int) -> Bool {
        groups == 1 && g.inChannels <= maxChannels && g.kernelHeight * g.kernelWidth > 1
    }

    static func run(input: UnsafePointer<Float>, packed: PanelGemm.PackedA, bias: UnsafePointer<Float>?,
                    residual: UnsafePointer<Float>?, geometry g: WindowGeometry, activation: FusedActivation,
                    into y: UnsafeMutablePointer<Float>) {
        let channels = g.inChannels, taps = g.kernelHeight * g.kernelWidth
        let m = packed.rows, spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        let planes = (0..<channels).map { _ in PhasePlane(g, fill: 0) }
        defer { for plane in planes { plane.deallocate() } }
        let rowOffsets = offsets(planes, taps: taps)
        let panels = (m + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        let columnTiles = (g.outWidth + PanelGemm.columnsPerTile - 1) / PanelGemm.columnsPerTile
        let parts = Parallel.ranges(g.outHeight), groups = panelGroups(panels: panels, depth: channels * taps)
        PanelGemm.withPanels(packed) { a in
            rowOffsets.withUnsafeBufferPointer { offsets in
                for image in 0..<g.batch {
                    let x = input + image * channels * spatialIn
                    PhasePlane.load(planes, from: x)
                    let imageOut = y + image * m * spatialOut
                    let imageResidual = residual.map { $0 + image * m * spatialOut }
                    Parallel.forEach(groups.count * parts.count) { item in
                        for oh in parts[item % parts.count] {
                            // Panel by panel along the row: six output planes are written at a time.
                            for panel in groups[item / parts.count] {
                                let firstRow = panel * PanelGemm.rowsPerPanel
                                for t in 0..<columnTiles {
                                    let ow = t * PanelGemm.columnsPerTile
                                    let origin = UnsafeRawPointer(planes[0].window(oh, ow))
                                    PanelGemm.indirectTile(a + panel * taps * channels * PanelGemm.rowsPerPanel, origin,
                                                           rowOffsets: offsets.baseAddress!, depth: channels * taps,
                                                           firstRow: firstRow, rowCount: min(PanelGemm.rowsPerPanel, m - firstRow),
                                                           column: oh * g.outWidth + ow,
                                                           width: min(PanelGemm.columnsPerTile, g.outWidth - ow), n: spatialOut,
                                                           bias: bias, residual: imageResidual, activation: activation, c: imageOut)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The weight panels cut into groups that stay in L2 while every output row passes over them.
    /// A stem's weights (27 x 32) are one group; a patch embedding's (768 x 192, 0.6 MB) would
    /// otherwise stream from L3 once per output row (a 16x16/16 layer ran 30 % behind ONNX
    /// Runtime so). Every output is still one tile's sum over all of k: the same bits.
    static func panelGroups(panels: Int, depth: Int) -> [Range<Int>] {
        let panelBytes = depth * PanelGemm.rowsPerPanel * MemoryLayout<Float>.stride
        let perGroup = max(1, groupBytes / panelBytes)
        return Parallel.evenParts(of: panels, count: (panels + perGroup - 1) / perGroup)
    }

    /// Weights per group: a quarter of a 512 KB L2, the rest for the planes' rows.
    static let groupBytes = 128 << 10

    /// Byte offsets from channel 0's window origin to every (channel, tap) row of B.
    static func offsets(_ planes: [PhasePlane], taps: Int) -> [Int] {
        (0..<(planes.count * taps)).map { k in
            (planes[k / taps].scratch - planes[0].scratch + planes[0].tapOffsets[k % taps]) * MemoryLayout<Float>.stride
        }
    }

    /// The same convolution into the channel-blocked layout (`ChannelBlocks`), the stem of a
    /// blocked chain: the GEMM's rows are six pixels of an output row, read from the planes at the
    /// per-k offsets, and its columns sixteen output channels of W^T packed at load
    /// (`BlockedGemmConvKernel.packWeights` over K = C*KH*KW).
    /// Layout: input [N, C, H, W], output [N, M/8, OH, OW, 8] (M a multiple of 8).
    static func runBlocked(input: UnsafePointer<Float>, weights: PackedBGemm.PackedB, bias: UnsafePointer<Float>?,
                           geometry g: WindowGeometry, activation: FusedActivation, into y: UnsafeMutablePointer<Float>) {
        let channels = g.inChannels, taps = g.kernelHeight * g.kernelWidth, depth = channels * taps
        let m = weights.columns, spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        let columnsPerTile = PanelGemm.columnsPerTile, tiles = (m + columnsPerTile - 1) / columnsPerTile
        let planes = (0..<channels).map { _ in PhasePlane(g, fill: 0) }
        defer { for plane in planes { plane.deallocate() } }
        let rowOffsets = offsets(planes, taps: taps)
        // `BlockedConv` takes this path only for K <= 256: packed B is one slice of K rows.
        assert(weights.sliceDepth >= depth, "few-channel weights in one slice")
        // One even band of rows per thread, not claimed by turns: the pool after a stem reads
        // even bands (`BlockedPool`), and with the boundary moving with who claimed what, a thread
        // read rows the other core wrote (SqueezeNet 4.5 % faster on two threads).
        let parts = Parallel.evenParts(of: g.outHeight, count: Parallel.threads), clamp = activation.clampBounds
        weights.values.withUnsafeBufferPointer { packed in
            rowOffsets.withUnsafeBufferPointer { offsets in
                for image in 0..<g.batch {
                    let x = input + image * channels * spatialIn
                    PhasePlane.load(planes, from: x)
                    let imageOut = y + image * m * spatialOut
                    Parallel.forEach(parts.count) { part in
                        for oh in parts[part] {
                            var ow = 0
                            while ow < g.outWidth {
                                let count = min(PanelGemm.rowsPerPanel, g.outWidth - ow)
                                let origin = UnsafeRawPointer(planes[0].window(oh, ow))
                                for t in 0..<tiles {
                                    blockedTile(origin, offsets: offsets.baseAddress!, depth: depth, count: count,
                                                packed.baseAddress! + t * depth * columnsPerTile, column: t * columnsPerTile,
                                                width: min(columnsPerTile, m - t * columnsPerTile), firstPixel: oh * g.outWidth + ow,
                                                spatial: spatialOut, bias: bias, clamp: clamp, imageOut)
                                }
                                ow += PanelGemm.rowsPerPanel
                            }
                            // A curve over the row of every block in one call (see `FusedActivation.applyCurve`).
                            if activation.isCurve {
                                activation.applyCurve(imageOut + oh * g.outWidth * ChannelBlocks.width, rows: 1, columns: g.outWidth * ChannelBlocks.width,
                                                      rowStride: 0, blocks: m / ChannelBlocks.width, blockStride: spatialOut * ChannelBlocks.width)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Six consecutive output pixels of a row (`count` stored; the rest repeat the last) by one
    /// 16-column tile: per k, six floats from the planes at `offsets[k]` times sixteen packed
    /// weights; `clamp` is the activation's (`activation.clampBounds`); a curve is the caller's,
    /// over whole rows.
    @inline(__always)
    static func blockedTile(_ origin: UnsafeRawPointer, offsets: UnsafePointer<Int>, depth: Int, count: Int,
                            _ b: UnsafePointer<Float>, column: Int, width: Int, firstPixel: Int, spatial: Int,
                            bias: UnsafePointer<Float>?, clamp: (lower: SIMD8<Float>, upper: SIMD8<Float>)?,
                            _ y: UnsafeMutablePointer<Float>) {
        let last = count - 1, f = MemoryLayout<Float>.stride
        let o1 = min(1, last) * f, o2 = min(2, last) * f, o3 = min(3, last) * f, o4 = min(4, last) * f, o5 = min(5, last) * f
        var sums = BlockedGemmConvKernel.startSums(firstPixel: firstPixel, count: count, spatial: spatial, column: column,
                                                   width: width, accumulate: false, bias: bias, residual: nil, y)
        var pb = UnsafeRawPointer(b)
        for k in 0..<depth {
            let p = origin + offsets[k]
            sums.add(p.load(as: Float.self), p.load(fromByteOffset: o1, as: Float.self), p.load(fromByteOffset: o2, as: Float.self),
                     p.load(fromByteOffset: o3, as: Float.self), p.load(fromByteOffset: o4, as: Float.self),
                     p.load(fromByteOffset: o5, as: Float.self),
                     pb.loadUnaligned(as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            pb += 64
        }
        BlockedGemmConvKernel.finishTile(sums, firstPixel: firstPixel, count: count, spatial: spatial, column: column, width: width,
                                         clamp: clamp, y)
    }
}
