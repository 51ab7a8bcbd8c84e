/// A depthwise convolution, the layer that makes its input (a stem over few input channels, or a
/// 1x1 expansion) and optionally the 1x1 projection after it, in the channel-blocked layout with
/// neither the depthwise layer's input nor (with a projection) its output ever written out.
/// The depthwise output rows are cut into near-equal bands (`bands`); each thread walks a range of
/// bands in order, computing the input rows a band's windows read into a zero-bordered scratch of
/// every channel block (in L2), running the depthwise microkernel over them (into a band buffer
/// when a projection follows, which then runs over the band's pixels as one GEMM). The scratch is
/// a ring of rows, so input rows two bands share stay where they are, neither computed nor moved
/// again; only where two threads' ranges meet is a row computed twice. Bands that do not follow
/// the thread count keep every pixel's sums the same for any thread count. (MobileNetV2's
/// 112x112 and 56x56 blocks otherwise wrote and read back 1.2-1.8 MB per tensor.)
/// Layout: X [N, C, H, W] for a stem (C <= 4, `IndirectConvKernel.runBlocked`'s weights), or
/// [N, C/8, H, W, 8] for an expansion (`BlockedGemmConvKernel.packWeights`); depthwise weights as
/// `BlockedDepthwiseKernel.packWeights`; output [N, M/8, OH, OW, 8] (M the depthwise channels, or
/// the projection's filters).
/// Twin: the kernels one after the other (`IndirectConvKernel.runBlocked` or
/// `BlockedGemmConvKernel`, `BlockedDepthwiseKernel`, `BlockedGemmConvKernel`).
public enum InvertedResidualKernel {
    /// What makes the depthwise layer's input rows.
    public enum Source {
        /// A convolution of few input channels over NCHW X, with its geometry.
        case stem(PackedBGemm.PackedB, WindowGeometry)
        /// A 1x1 convolution over blocked X.
        case expansion(PackedBGemm.PackedB)

        var weights: PackedBGemm.PackedB {
            switch self {
            case .stem(let weights, _), .expansion(let weights): return weights
            }
        }
    }

    /// The 1x1 convolution after the depthwise layer: y = activation(W x + bias + residual), the
    /// residual (if any) in the output's layout.
    public struct Projection {
        public let weights: PackedBGemm.PackedB
        public let bias: UnsafePointer<Float>?
        public let residual: UnsafePointer<Float>?
        public let activation: FusedActivation

        public init(weights: PackedBGemm.PackedB, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                    activation: FusedActivation) {
            self.weights = weights
            self.bias = bias
            self.residual = residual
            self.activation = activation
        }
    }

    /// The scratch a band may take: its input rows of every block, and with a projection its
    /// depthwise output. With a projection, most of a 512 KB L2: bands of one row (192 KB)
    /// left the projection's GEMM too few pixels per pass over its weights (EfficientNet-Lite0's
    /// 28x28 blocks 10-15 % slower than unfused); 400 KB measured best (MobileNetV2 and Lite0
    /// 1.4 % faster than 192 KB, 0.3 % than 512 KB). Without, the stem's 160 KB (B0's stem on
    /// two threads 1.5 % slower at 400 KB).
    static let projectedBandBytes = 400 << 10
    static let bandBytes = 160 << 10

    /// The bands of depthwise output rows for `g` (the depthwise geometry over the source's
    /// output): each half of the rows (the top one a row larger when their count is odd) cut into
    /// as few near-equal bands as fit the L2 budget, so two threads taking a half each have the
    /// same rows whatever the budget allows. Bands of one size split unevenly where the size does
    /// not divide the halves: MobileNetV2's stride-2 block into 14x14 had bands of 4, 4, 4 and 2
    /// rows, 8 against 6, and the busier thread took 20 us longer of 96 (now 4, 3, 4, 3). The
    /// bands do not follow the thread count: where a band ends decides how the projection's GEMM
    /// groups pixels, and so some pixels' rounding.
    public static func bands(_ g: WindowGeometry, projects: Bool) -> [Range<Int>] {
        let planeWidth = max(g.inWidth + g.padLeft + g.padRight, (g.outWidth - 1) * g.strideWidth + g.kernelWidth)
        let windowHeight = (g.kernelHeight - 1) * g.dilationHeight + 1, f = MemoryLayout<Float>.stride
        func bytes(_ rows: Int) -> Int {
            ((rows - 1) * g.strideHeight + windowHeight) * planeWidth * g.inChannels * f + (projects ? rows * g.outWidth * g.inChannels * f : 0)
        }
        var most = 1
        while most < g.outHeight && bytes(most + 1) <= (projects ? projectedBandBytes : bandBytes) { most += 1 }
        let middle = (g.outHeight + 1) / 2
        return [0..<middle, middle..<g.outHeight].flatMap { half -> [Range<Int>] in
            let count = (half.count + most - 1) / most
            return (0..<count).map { Parallel.evenPart($0, of: half.count, parts: count) }
                .map { (half.lowerBound + $0.lowerBound)..<(half.lowerBound + $0.upperBound) }
        }
    }

    /// y = [projection of] depthwiseActivation(depthwise(sourceActivation(source(x) + sourceBias)) + depthwiseBias).
    public static func run(_ x: UnsafePointer<Float>, source: Source, sourceBias: UnsafePointer<Float>?, sourceActivation: FusedActivation,
                           depthwise g: WindowGeometry, depthwiseWeights: UnsafePointer<Float>, depthwiseBias: UnsafePointer<Float>?,
                           depthwiseActivation: FusedActivation, projection: Projection? = nil, into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, e = g.inChannels, blocks = e / w
        precondition(ExpandDepthwiseKernel.applies(g) && source.weights.columns == e && e % w == 0
                     && (projection.map { $0.weights.depth == e } ?? true), "a depthwise window with a microkernel over the source's output")
        let sourceWeights = source.weights, k = sourceWeights.depth, columnsPerTile = PanelGemm.columnsPerTile
        let tiles = (e + columnsPerTile - 1) / columnsPerTile
        let shape = BlockedDepthwiseKernel.Microkernel(width: g.kernelWidth, stride: g.strideWidth)!
        let planeWidth = max(g.inWidth + g.padLeft + g.padRight, (g.outWidth - 1) * g.strideWidth + g.kernelWidth)
        let rowFloats = planeWidth * w, windowHeight = (g.kernelHeight - 1) * g.dilationHeight + 1
        let bands = bands(g, projects: projection != nil), bandRows = bands.map(\.count).max() ?? 1
        let scratchRows = (bandRows - 1) * g.strideHeight + windowHeight, blockFloats = scratchRows * rowFloats
        let outSpatial = g.outHeight * g.outWidth, outChannels = projection?.weights.columns ?? e
        // The band buffer (a projection's input) and its steps of k.
        let bandBlockFloats = bandRows * g.outWidth * w
        let bandPanels = (bandRows * g.outWidth + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        let bandSteps = UnsafeMutableBufferPointer<Int>.allocate(capacity: blocks)
        for b in 0..<blocks { bandSteps[b] = b * bandBlockFloats }
        // An expansion's input: its blocks' steps and a row's pixel offsets.
        let inPlane = g.inHeight * g.inWidth * w, rowPanels = (g.inWidth + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        let inputSteps = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, k / w))
        for s in 0..<(k / w) { inputSteps[s] = s * inPlane }
        let rowOffsets = UnsafeMutableBufferPointer<Int>.allocate(capacity: rowPanels * PanelGemm.rowsPerPanel)
        BlockedGemmConvKernel.Window(rowStep: 0, columnStep: w, outWidth: g.inWidth, blockStride: 0)
            .offsets(from: 0, count: rowOffsets.count, last: g.inWidth - 1, into: rowOffsets.baseAddress!)
        // A stem's input: the phase-split planes of X and the (channel, tap) offsets into them.
        var planes: [PhasePlane] = [], offsets: [Int] = []
        if case .stem(_, let s) = source {
            precondition(s.outHeight == g.inHeight && s.outWidth == g.inWidth, "the depthwise layer reads the stem's output")
            planes = (0..<s.inChannels).map { _ in PhasePlane(s, fill: 0) }
            offsets = IndirectConvKernel.offsets(planes, taps: s.kernelHeight * s.kernelWidth)
        }
        let tapOffsets = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, offsets.count))
        _ = tapOffsets.initialize(from: offsets)
        defer {
            for plane in planes { plane.deallocate() }
            for buffer in [bandSteps, inputSteps, rowOffsets, tapOffsets] { buffer.deallocate() }
        }
        let clamp = sourceActivation.clampBounds
        // Whole bands per thread, the same bands for any thread count (captured here: a worker sees
        // one thread); on two threads, a half of the rows each.
        let parts = Parallel.evenParts(of: bands.count, count: Parallel.threads)
        let gemmFloats = projection.map { BlockedGemmConvKernel.scratchFloats(panels: bandPanels, weights: $0.weights) } ?? 0
        let planeRoom = (blocks * blockFloats + 15) / 16 * 16, bandRoom = projection == nil ? 0 : (blocks * bandBlockFloats + 15) / 16 * 16
        sourceWeights.values.withUnsafeBufferPointer { sourcePacked in
            // (The source's weights stand in where there is no projection: never read.)
            (projection?.weights.values ?? sourceWeights.values).withUnsafeBufferPointer { projectionPacked in
                let packedSource = sourcePacked.baseAddress!
                for image in 0..<g.batch {
                    if case .stem(_, let s) = source { PhasePlane.load(planes, from: x + image * s.inChannels * s.inHeight * s.inWidth) }
                    let imageX = x + image * (k / w) * inPlane
                    let imageOut = y + image * outChannels * outSpatial

                    /// Input row `row` of the depthwise layer into scratch row `r` of every block (zeros outside the plane).
                    func sourceRow(_ row: Int, into scratch: UnsafeMutablePointer<Float>, at r: Int) {
                        guard row >= 0 && row < g.inHeight else {
                            for b in 0..<blocks { (scratch + b * blockFloats + r * rowFloats).update(repeating: 0, count: rowFloats) }
                            return
                        }
                        let target = scratch + r * rowFloats + g.padLeft * w
                        switch source {
                        case .stem(_, let s):
                            var ow = 0
                            while ow < s.outWidth {
                                let count = min(PanelGemm.rowsPerPanel, s.outWidth - ow)
                                let origin = UnsafeRawPointer(planes[0].window(row, ow))
                                for t in 0..<tiles {
                                    IndirectConvKernel.blockedTile(origin, offsets: tapOffsets.baseAddress!, depth: k, count: count,
                                                                   packedSource + t * k * columnsPerTile, column: t * columnsPerTile,
                                                                   width: min(columnsPerTile, e - t * columnsPerTile),
                                                                   firstPixel: r * planeWidth + g.padLeft + ow, spatial: blockFloats / w,
                                                                   bias: sourceBias, clamp: clamp, scratch)
                                }
                                ow += PanelGemm.rowsPerPanel
                            }
                        case .expansion:
                            for t in 0..<tiles {
                                ExpandDepthwiseKernel.expandRow(imageX + row * g.inWidth * w, pixels: g.inWidth,
                                                                pixelOffsets: rowOffsets.baseAddress!, steps: inputSteps.baseAddress!,
                                                                weights: sourceWeights, packed: packedSource, tile: t, column: t * columnsPerTile,
                                                                bias: sourceBias, clamp: clamp, spatial: blockFloats / w, into: target)
                            }
                        }
                        // The curve over the row while it is in L1, its blocks in one call (see `FusedActivation.applyCurve`).
                        if sourceActivation.isCurve {
                            sourceActivation.applyCurve(target, rows: 1, columns: g.inWidth * w, rowStride: 0, blocks: blocks, blockStride: blockFloats)
                        }
                    }

                    Parallel.forEach(parts.count) { part in
                        Scratch.withFloats(planeRoom + bandRoom + gemmFloats) { scratch in
                            let band = scratch + planeRoom, gemmScratch = band + bandRoom
                            // The padding columns stay zero: source rows write only the interior.
                            scratch.initialize(repeating: 0, count: blocks * blockFloats)
                            // Input row i lives in scratch row i mod scratchRows (a band's rows are at most
                            // that many), so the rows the last band computed and this one reads again stay
                            // where they are (moved to the top, 4 MB per run in Lite0: 1.4 % of its time).
                            var computedEnd = Int.min
                            for index in parts[part] {
                                let firstRow = bands[index].lowerBound, endRow = bands[index].upperBound
                                let top = firstRow * g.strideHeight - g.padTop
                                let end = top + (endRow - firstRow - 1) * g.strideHeight + windowHeight
                                for row in max(top, computedEnd)..<end {
                                    sourceRow(row, into: scratch, at: ExpandDepthwiseKernel.ringRow(row, of: scratchRows))
                                }
                                computedEnd = end
                                for b in 0..<blocks {
                                    let filter = depthwiseWeights + b * g.kernelHeight * g.kernelWidth * w
                                    let start = depthwiseBias.map { UnsafeRawPointer($0 + b * w).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
                                    // Into the band buffer or the output.
                                    let target = projection == nil ? imageOut + b * outSpatial * w + firstRow * g.outWidth * w
                                        : band + b * bandBlockFloats
                                    ExpandDepthwiseKernel.depthwiseBand(scratch + b * blockFloats, rowFloats: rowFloats, ring: scratchRows,
                                                                        g, shape, rows: firstRow..<endRow, filter: filter, start: start,
                                                                        activation: depthwiseActivation, into: target)
                                }
                                guard let projection else { continue }
                                let pixels = (endRow - firstRow) * g.outWidth, first = firstRow * g.outWidth * w
                                let window = BlockedGemmConvKernel.Window(rowStep: 0, columnStep: w, outWidth: pixels, blockStride: 0)
                                let projectionTiles = (outChannels + columnsPerTile - 1) / columnsPerTile
                                BlockedGemmConvKernel.multiplyRange(
                                    band, window, steps: bandSteps.baseAddress!, weights: projection.weights,
                                    packed: projectionPacked.baseAddress!, panels: 0..<((pixels + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel),
                                    pixels: pixels, spatial: outSpatial, tileRange: 0..<projectionTiles, bias: projection.bias,
                                    residual: projection.residual.map { $0 + image * outChannels * outSpatial + first },
                                    activation: projection.activation, into: imageOut + first, scratch: gemmScratch)
                            }
                        }
                    }
                }
            }
        }
    }
}
