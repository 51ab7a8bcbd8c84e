/// 3x3 stride-1 convolution by Winograd F(4x4, 3x3) in the channel-blocked layout (`ChannelBlocks`):
/// a tile's 6x6 input patch is 36 vectors of eight channels, so both transforms are plain vector
/// arithmetic with no transposes, and each of the 36 transform-domain products is a blocked GEMM
/// whose rows are the tiles (`BlockedGemmConvKernel.multiplyRange`).
/// Layout: input [N, C/8, H, W, 8], read from a zero-bordered copy; U = G g G^T packed at load per
/// position over [C, M]; per block of tiles, transformed input [36][C/8][block][8] and products
/// [36][M/8][block][8]; output [N, M/8, OH, OW, 8]. Blocks split across threads, or with few of
/// them each block's stages do (channels, positions, filters).
/// Twin: `ConvKernels.reference` through reorders; the transforms round as `WinogradKernel`'s.
public enum BlockedWinogradKernel {
    /// U packed for the blocked GEMM, one operand per transform position.
    public struct Weights: Sendable {
        public let outChannels: Int
        public let inChannels: Int
        let positions: [PackedBGemm.PackedB]
    }

    /// U = G g G^T per filter and channel (as `WinogradKernel`), packed per position (once, at load).
    public static func transformWeights(_ weights: [Float], outChannels m: Int, inChannels c: Int) -> Weights {
        let u = WinogradKernel.transformedFilters(weights, outChannels: m, inChannels: c)
        // Position p's [m][c] filters are its B read by columns (as `packWeights` with one tap).
        let positions = u.withUnsafeBufferPointer { u in
            (0..<36).map { p in
                PackedBGemm.PackedB(columnsOf: u.baseAddress! + p * m * c, columnStride: c, rowOffsets: nil, depth: c, columns: m,
                                    sliceMultiple: ChannelBlocks.width)
            }
        }
        return Weights(outChannels: m, inChannels: c, positions: positions)
    }

    /// y = activation(conv(x, W) + bias + residual), all blocked.
    public static func run(_ x: UnsafePointer<Float>, geometry g: WindowGeometry, weights: Weights, bias: UnsafePointer<Float>?,
                           residual: UnsafePointer<Float>?, activation: FusedActivation, into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, c = weights.inChannels, m = weights.outChannels
        let tilesHigh = (g.outHeight + 3) / 4, tilesWide = (g.outWidth + 3) / 4, tiles = tilesHigh * tilesWide
        // Every tile's 6x6 patch lies inside the bordered plane.
        let planeHeight = max(tilesHigh * 4 + 2, g.inHeight + g.padTop), planeWidth = max(tilesWide * 4 + 2, g.inWidth + g.padLeft)
        let planeFloats = planeHeight * planeWidth * w
        // Blocks of tiles as the NCHW kernel's, in whole six-row panels.
        let block = WinogradKernel.tileBlock(tiles: tiles, inChannels: c, outChannels: m, multiple: PanelGemm.rowsPerPanel)
        let blocksPerImage = (tiles + block - 1) / block
        let inStride = WinogradKernel.positionStride(c * block), outStride = WinogradKernel.positionStride(m * block)
        let spatialOut = g.outHeight * g.outWidth
        // The GEMMs read the transformed input as a blocked plane of `block` pixels.
        let window = BlockedGemmConvKernel.Window(rowStep: 0, columnStep: w, outWidth: block, blockStride: block * w)
        let steps = (0..<(c / w)).map { $0 * block * w }
        let gemmScratch = BlockedGemmConvKernel.scratchFloats(panels: block / PanelGemm.rowsPerPanel, weights: weights.positions[0])
        let plane = BufferPool.floats(g.batch * (c / w) * planeFloats) {
            ChannelBlocks.pad(x, blocks: g.batch * c / w, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft,
                              planeHeight: planeHeight, planeWidth: planeWidth, into: $0.baseAddress!)
        }
        defer { BufferPool.recycle(plane) }
        let layout = Layout(planeWidth: planeWidth, planeFloats: planeFloats, tilesWide: tilesWide, block: block,
                            inStride: inStride, outStride: outStride, geometry: g)
        plane.withUnsafeBufferPointer { planeBuffer in
            steps.withUnsafeBufferPointer { stepsBuffer in
                func gemm(_ position: Int, _ count: Int, _ v: UnsafePointer<Float>, _ products: UnsafeMutablePointer<Float>,
                          _ scratch: UnsafeMutablePointer<Float>) {
                    let u = weights.positions[position]
                    u.values.withUnsafeBufferPointer { packed in
                        BlockedGemmConvKernel.multiplyRange(v + position * inStride, window, steps: stepsBuffer.baseAddress!, weights: u,
                                                            packed: packed.baseAddress!, panels: 0..<((count + 5) / 6), pixels: count,
                                                            spatial: block, tileRange: 0..<((m + 15) / 16), bias: nil, residual: nil,
                                                            activation: .none, into: products + position * outStride, scratch: scratch)
                    }
                }
                let work = g.batch * blocksPerImage, threads = Parallel.threads
                if threads > 1 && work < 2 * threads {
                    // Few blocks (small planes): each block's stages split by channel block,
                    // transform position and filter block.
                    // (Pool buffers, not the calling thread's scratch, which the GEMMs' own scratch would nest in.)
                    var v = BufferPool.floats(36 * inStride) { _ in }, products = BufferPool.floats(36 * outStride) { _ in }
                    defer { BufferPool.recycle(v); BufferPool.recycle(products) }
                    let inParts = Parallel.ranges(c / w), outParts = Parallel.ranges(m / w)
                    v.withUnsafeMutableBufferPointer { vBuffer in products.withUnsafeMutableBufferPointer { productsBuffer in
                    let vPointer = vBuffer.baseAddress!, productsPointer = productsBuffer.baseAddress!
                    for item in 0..<work {
                        let image = item / blocksPerImage, first = (item % blocksPerImage) * block, count = min(block, tiles - first)
                        Parallel.forEach(inParts.count) { part in
                            transformInput(planeBuffer.baseAddress! + image * (c / w) * planeFloats, layout, channelBlocks: inParts[part],
                                           first: first, count: count, into: vPointer)
                        }
                        Parallel.forEach(36) { position in
                            Scratch.withFloats(gemmScratch) { gemm(position, count, vPointer, productsPointer, $0) }
                        }
                        Parallel.forEach(outParts.count) { part in
                            transformOutput(productsPointer, layout, filterBlocks: outParts[part], first: first, count: count, bias: bias,
                                            residual: residual.map { $0 + image * m * spatialOut }, activation: activation,
                                            into: y + image * m * spatialOut)
                        }
                    }
                    } }
                    return
                }
                let parts = Parallel.ranges(work)
                Parallel.forEach(parts.count) { part in
                    Scratch.withFloats(36 * inStride + gemmScratch, 36 * outStride) { v, products in
                        for item in parts[part] {
                            let image = item / blocksPerImage, first = (item % blocksPerImage) * block, count = min(block, tiles - first)
                            transformInput(planeBuffer.baseAddress! + image * (c / w) * planeFloats, layout, channelBlocks: 0..<(c / w),
                                           first: first, count: count, into: v)
                            for position in 0..<36 { gemm(position, count, v, products, v + 36 * inStride) }
                            transformOutput(products, layout, filterBlocks: 0..<(m / w), first: first, count: count, bias: bias,
                                            residual: residual.map { $0 + image * m * spatialOut }, activation: activation,
                                            into: y + image * m * spatialOut)
                        }
                    }
                }
            }
        }
    }

    /// Where the transforms read and write.
    struct Layout {
        let planeWidth, planeFloats, tilesWide, block, inStride, outStride: Int
        let geometry: WindowGeometry
    }

    /// V = B^T d B for tiles first ..< first + count of the given channel blocks, eight channels
    /// per vector: a patch's 36 vectors from the bordered plane (rows planeWidth pixels apart),
    /// columns then rows, into V[position][channel block][tile][8].
    @inline(never)
    static func transformInput(_ plane: UnsafePointer<Float>, _ layout: Layout, channelBlocks: Range<Int>, first: Int, count: Int,
                               into v: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, rowBytes = layout.planeWidth * w * 4
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 36) { rows in
            for cb in channelBlocks {
                let blockPlane = UnsafeRawPointer(plane + cb * layout.planeFloats)
                for i in 0..<count {
                    let tile = first + i
                    let origin = blockPlane + ((tile / layout.tilesWide) * 4 * layout.planeWidth + (tile % layout.tilesWide) * 4) * w * 4
                    // Columns: t = B^T d.
                    for col in 0..<6 {
                        func d(_ r: Int) -> SIMD8<Float> { origin.loadUnaligned(fromByteOffset: r * rowBytes + col * w * 4, as: SIMD8<Float>.self) }
                        WinogradKernel.inputLine(d(0), d(1), d(2), d(3), d(4), d(5)) { rows[$0 * 6 + col] = $1 }
                    }
                    // Rows: V = t B, position r * 6 + j.
                    let target = UnsafeMutableRawPointer(v + (cb * layout.block + i) * w)
                    for r in 0..<6 {
                        func store(_ j: Int, _ value: SIMD8<Float>) {
                            target.storeBytes(of: value, toByteOffset: (r * 6 + j) * layout.inStride * 4, as: SIMD8<Float>.self)
                        }
                        WinogradKernel.inputLine(rows[r * 6], rows[r * 6 + 1], rows[r * 6 + 2], rows[r * 6 + 3], rows[r * 6 + 4],
                                                 rows[r * 6 + 5], store)
                    }
                }
            }
        }
    }

    /// Y = A^T M A per tile and filter block, plus bias and residual, through the activation;
    /// stores the part of each 4x4 tile inside the output.
    @inline(never)
    static func transformOutput(_ products: UnsafePointer<Float>, _ layout: Layout, filterBlocks: Range<Int>, first: Int, count: Int,
                                bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                                into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, g = layout.geometry, spatial = g.outHeight * g.outWidth
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 24) { rows in
            for mb in filterBlocks {
                let start = bias.map { UnsafeRawPointer($0 + mb * w).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
                let plane = UnsafeMutableRawPointer(y + mb * spatial * w)
                let residualPlane = residual.map { UnsafeRawPointer($0 + mb * spatial * w) }
                for i in 0..<count {
                    let source = UnsafeRawPointer(products + (mb * layout.block + i) * w)
                    func load(_ position: Int) -> SIMD8<Float> {
                        source.loadUnaligned(fromByteOffset: position * layout.outStride * 4, as: SIMD8<Float>.self)
                    }
                    // Columns: t = A^T M (4x6).
                    for col in 0..<6 {
                        (rows[col], rows[6 + col], rows[12 + col], rows[18 + col])
                            = WinogradKernel.outputLine(load(col), load(6 + col), load(12 + col), load(18 + col), load(24 + col), load(30 + col))
                    }
                    // Rows: Y = t A, the part inside the output stored.
                    let tile = first + i
                    let top = (tile / layout.tilesWide) * 4, left = (tile % layout.tilesWide) * 4
                    let height = min(4, g.outHeight - top), width = min(4, g.outWidth - left)
                    for r in 0..<height {
                        let line = WinogradKernel.outputLine(rows[r * 6], rows[r * 6 + 1], rows[r * 6 + 2], rows[r * 6 + 3], rows[r * 6 + 4],
                                                             rows[r * 6 + 5])
                        let values = (line.0 + start, line.1 + start, line.2 + start, line.3 + start)
                        let offset = ((top + r) * g.outWidth + left) * w * 4
                        func store(_ j: Int, _ value: SIMD8<Float>) {
                            var sum = value
                            if let residualPlane { sum += residualPlane.loadUnaligned(fromByteOffset: offset + j * w * 4, as: SIMD8<Float>.self) }
                            plane.storeBytes(of: activation.apply(sum), toByteOffset: offset + j * w * 4, as: SIMD8<Float>.self)
                        }
                        store(0, values.0)
                        if width > 1 { store(1, values.1) }
                        if width > 2 { store(2, values.2) }
                        if width > 3 { store(3, values.3) }
                    }
                }
            }
        }
    }
}
