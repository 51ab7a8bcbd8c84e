/// 3x3 stride-1 convolution by Winograd F(4x4, 3x3), F(6x6, 3x3) for large planes or F(2x2, 3x3)
/// for small ones, in the channel-blocked layout (`ChannelBlocks`): a tile's 6x6 (8x8, 4x4) input
/// patch is 36 (64, 16) vectors of eight channels, so both transforms are plain vector arithmetic with no transposes, and each
/// transform-domain product is a blocked GEMM whose rows are the tiles
/// (`BlockedGemmConvKernel.multiplyRange`).
/// Layout: input [N, C/8, H, W, 8], read in place (edge patches gathered); U = G g G^T packed at load per
/// position over [C, M]; per block of tiles, transformed input [P][C/8][block][8] and products
/// [P][M/8][block][8] (P = 36, 64 or 16 positions); output [N, M/8, OH, OW, 8]. Blocks split across threads, or with few of
/// them each block's stages do (input by channels, then products by filters or by positions).
/// Twin: `ConvKernels.reference` through reorders; the transforms round as `WinogradKernel`'s.
public enum BlockedWinogradKernel {
    /// U packed for the blocked GEMM, one operand per transform position.
    public struct Weights: Sendable {
        public let outChannels: Int
        public let inChannels: Int
        /// Output tile side: 4 for F(4x4, 3x3), 6 for F(6x6, 3x3), 2 for F(2x2, 3x3).
        public let tile: Int
        let positions: [PackedBGemm.PackedB]
    }

    /// Output tiles of a plane for tile side `tile`.
    public static func tiles(height: Int, width: Int, tile: Int) -> Int {
        (height + tile - 1) / tile * ((width + tile - 1) / tile)
    }

    /// The tile side for an output plane: F(4x4) with `WinogradKernel.minimumTiles` tiles or more;
    /// else F(2x2) for wide layers whose plane still makes that many 2x2 tiles (ResNet's 7x7
    /// layers of 512 channels: 4 tiles of 4x4, but 16 of 2x2, with 0.59 of direct GEMM's
    /// multiply-adds and 16/9 of its weights); nil for neither. Where the transformed weights
    /// stream from memory (past 16 MB for F(4x4)) and the plane makes fewer than 32 tiles of 4x4,
    /// F(2x2) too: its weights are 16/36 of F(4x4)'s, which outweighs its 1.36x multiply-adds
    /// (VGG-19's 14x14 layers of 512 channels 8 % faster).
    /// F(6x6) where its 64 products per tile come to at most 0.85 of F(4x4)'s per plane (planes
    /// of about 100 pixels a side or more: a 56x56 plane's 6x6 tiles overhang it by 4 pixels,
    /// 0.91) and its weights stay in the L3: VGG-19's 224x224 and 112x112 layers, 0.82 of the
    /// products, 3-15 % less time (the 224x224 layer most).
    public static func tile(height: Int, width: Int, inChannels c: Int, outChannels m: Int) -> Int? {
        let fours = tiles(height: height, width: width, tile: 4)
        if fours >= WinogradKernel.minimumTiles && 100 * 64 * tiles(height: height, width: width, tile: 6) <= 85 * 36 * fours
            && 64 * c * m <= 1 << 22 {
            return 6
        }
        if fours >= WinogradKernel.minimumTiles && !(WinogradKernel.streamsWeights(inChannels: c, outChannels: m) && fours < 32) {
            return 4
        }
        if c >= 256 && m >= 256 && tiles(height: height, width: width, tile: 2) >= WinogradKernel.minimumTiles { return 2 }
        return nil
    }

    /// U = G g G^T per filter and channel (as `WinogradKernel`), packed per position (once, at load).
    public static func transformWeights(_ weights: [Float], outChannels m: Int, inChannels c: Int, tile: Int = 4) -> Weights {
        let (g, n) = tile == 2 ? (WinogradKernel.filterTransform2, 4) : tile == 6 ? (filterTransform6, 8) : (WinogradKernel.filterTransform4, 6)
        var positions: [PackedBGemm.PackedB] = []
        // Position p's [m][c] filters are its B read by columns (as `packWeights` with one tap).
        WinogradKernel.forEachTransformedRow(weights, outChannels: m, inChannels: c, g: g, n: n) { u in
            positions += (0..<n).map { column in
                PackedBGemm.PackedB(columnsOf: u + column * m * c, columnStride: c, rowOffsets: nil, depth: c, columns: m,
                                    sliceMultiple: ChannelBlocks.width)
            }
        }
        return Weights(outChannels: m, inChannels: c, tile: tile, positions: positions)
    }

    /// F(6x6, 3x3)'s G, row by row (8x3), for the points 0, -1, 1, 1/2, -1/2, 2, -2 and infinity.
    static let filterTransform6: [Double] = [1, 0, 0, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9,
                                             1.0 / 90, 1.0 / 45, 2.0 / 45, 1.0 / 90, -1.0 / 45, 2.0 / 45,
                                             32.0 / 45, 16.0 / 45, 8.0 / 45, 32.0 / 45, -16.0 / 45, 8.0 / 45, 0, 0, 1]

    /// Blocks of tiles as the NCHW kernel's, in whole six-row panels, and how many an image takes.
    static func blocks(tiles: Int, inChannels c: Int, outChannels m: Int, positions: Int) -> (block: Int, perImage: Int) {
        let block = WinogradKernel.tileBlock(tiles: tiles, inChannels: c, outChannels: m, multiple: PanelGemm.rowsPerPanel,
                                             positions: max(36, positions))
        return (block, (tiles + block - 1) / block)
    }

    /// With fewer blocks of tiles than the threads can share evenly (small planes, several
    /// threads): whether each thread transforms the input into a V of its own, and the floats of
    /// a shared V and of the products; nil otherwise (each thread takes whole blocks).
    static func fewBlocks(_ g: WindowGeometry, _ weights: Weights) -> (privateV: Bool, vFloats: Int, productFloats: Int)? {
        let c = weights.inChannels, m = weights.outChannels, positions = weights.positions.count, threads = Parallel.threads
        let tiles = tiles(height: g.outHeight, width: g.outWidth, tile: weights.tile)
        let (block, perImage) = blocks(tiles: tiles, inChannels: c, outChannels: m, positions: positions)
        let work = g.batch * perImage
        guard threads > 1 && work < 2 * threads && work % threads != 0 else { return nil }
        // In a small layer (under 2^22 multiply-adds per position) with 64 filters or more per
        // thread (see `run`).
        return (m >= 64 * threads && c * m * tiles < 1 << 22,
                positions * WinogradKernel.positionStride(c * block), positions * WinogradKernel.positionStride(m * block))
    }

    /// The pool buffers `run` takes for `g` at the current thread count, all out at once (a
    /// load's sizing run reserves them): with few blocks, the shared V if any and the products.
    public static func poolScratch(geometry g: WindowGeometry, weights: Weights) -> [Int] {
        guard let few = fewBlocks(g, weights) else { return [] }
        return (few.privateV ? [] : [few.vFloats]) + [few.productFloats]
    }

    /// y = activation(conv(x, W) + bias + residual), all blocked.
    public static func run(_ x: UnsafePointer<Float>, geometry g: WindowGeometry, weights: Weights, bias: UnsafePointer<Float>?,
                           residual: UnsafePointer<Float>?, activation: FusedActivation, into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, c = weights.inChannels, m = weights.outChannels, side = weights.tile
        let positionCount = weights.positions.count
        let tilesHigh = (g.outHeight + side - 1) / side, tilesWide = (g.outWidth + side - 1) / side, tiles = tilesHigh * tilesWide
        // Patches are read from X itself; those crossing its edge are gathered with zeros.
        let planeFloats = g.inHeight * g.inWidth * w
        let (block, blocksPerImage) = blocks(tiles: tiles, inChannels: c, outChannels: m, positions: positionCount)
        // The tiles of work item `item`'s block: even parts of the image's tiles.
        func blockTiles(_ item: Int) -> Range<Int> { Parallel.evenPart(item % blocksPerImage, of: tiles, parts: blocksPerImage) }
        let inStride = WinogradKernel.positionStride(c * block), outStride = WinogradKernel.positionStride(m * block)
        let spatialOut = g.outHeight * g.outWidth
        // The GEMMs read the transformed input as a blocked plane of `block` pixels.
        let window = BlockedGemmConvKernel.Window(rowStep: 0, columnStep: w, outWidth: block, blockStride: block * w)
        let steps = (0..<(c / w)).map { $0 * block * w }
        let gemmScratch = BlockedGemmConvKernel.scratchFloats(panels: block / PanelGemm.rowsPerPanel, weights: weights.positions[0])
        let layout = Layout(planeFloats: planeFloats, tilesWide: tilesWide, block: block,
                            inStride: inStride, outStride: outStride, tile: side, geometry: g)
        steps.withUnsafeBufferPointer { stepsBuffer in
            func gemm(_ position: Int, _ count: Int, _ v: UnsafePointer<Float>, _ products: UnsafeMutablePointer<Float>,
                      _ scratch: UnsafeMutablePointer<Float>, tiles: Range<Int>? = nil) {
                let u = weights.positions[position]
                u.values.withUnsafeBufferPointer { packed in
                    BlockedGemmConvKernel.multiplyRange(v + position * inStride, window, steps: stepsBuffer.baseAddress!, weights: u,
                                                        packed: packed.baseAddress!, panels: 0..<((count + 5) / 6), pixels: count,
                                                        spatial: block, tileRange: tiles ?? 0..<((m + 15) / 16), bias: nil, residual: nil,
                                                        activation: .none, into: products + position * outStride, scratch: scratch)
                }
            }
            let work = g.batch * blocksPerImage, threads = Parallel.threads
            if let few = fewBlocks(g, weights) {
                // Few blocks (small planes): in a small layer (under 2^22 multiply-adds per
                // position) with 64 filters or more per thread, each thread transforms the
                // block's whole input into a V of its own, then makes and transforms the
                // products of its 16-filter tiles: only X crosses between cores (its input
                // transform, done twice, is under 8 % of its GEMMs; SqueezeNet's 13x13 layers so
                // 4 % faster on two threads 230 ns apart; in VGG-19's 28x28 and 14x14 layers of
                // 512 channels the shared V below is 2.5 % faster on the model). Else the input
                // transform splits by channel block; then, with more filters than channels,
                // the products and the output transform split by filter tiles, so only V
                // crosses; else the products split by transform position and the output
                // transform by filter block, so only the (smaller) products cross.
                // (SqueezeNet's 16 -> 64 layers at 55x55 ran no faster on two cores than on
                // one with every product crossing; DenseNet's 128 -> 32 ran 7 % slower with
                // V crossing; VGG-19's 512 -> 512, 3.5 % slower split by filters.)
                // (Pool buffers, not the calling thread's scratch, which the GEMMs' own scratch would
                // nest in; a private V is scratch, the GEMMs' own after it.)
                let privateV = few.privateV
                var v = privateV ? [] : BufferPool.floats(few.vFloats) { _ in }
                var products = BufferPool.floats(few.productFloats) { _ in }
                defer {
                    if !privateV { BufferPool.recycle(v) }
                    BufferPool.recycle(products)
                }
                let inParts = Parallel.ranges(c / w), byFilters = privateV || m > c
                // One split of the filters: GEMM tiles of 16 with the products, else blocks of 8.
                let filterParts = byFilters ? Parallel.evenParts(of: (m + 15) / 16, count: threads) : Parallel.ranges(m / w)
                v.withUnsafeMutableBufferPointer { vBuffer in products.withUnsafeMutableBufferPointer { productsBuffer in
                let sharedV = privateV ? nil : vBuffer.baseAddress, productsPointer = productsBuffer.baseAddress!
                for item in 0..<work {
                    let image = item / blocksPerImage, blockRange = blockTiles(item), first = blockRange.lowerBound, count = blockRange.count
                    let imageX = x + image * (c / w) * planeFloats
                    func output(_ filterBlocks: Range<Int>) {
                        transformOutput(productsPointer, layout, filterBlocks: filterBlocks, first: first, count: count, bias: bias,
                                        residual: residual.map { $0 + image * m * spatialOut }, activation: activation,
                                        into: y + image * m * spatialOut)
                    }
                    if let sharedV {
                        Parallel.forEach(inParts.count) { part in
                            transformInput(imageX, layout, channelBlocks: inParts[part], first: first, count: count, into: sharedV)
                        }
                    }
                    if byFilters {
                        Parallel.forEach(filterParts.count) { part in
                            let tiles = filterParts[part]
                            Scratch.withFloats((privateV ? positionCount * inStride : 0) + gemmScratch) { scratch in
                                let ownV = privateV ? scratch : nil
                                if let ownV { transformInput(imageX, layout, channelBlocks: 0..<(c / w), first: first, count: count, into: ownV) }
                                let gemmRoom = privateV ? scratch + positionCount * inStride : scratch
                                for position in 0..<positionCount {
                                    gemm(position, count, ownV ?? sharedV!, productsPointer, gemmRoom, tiles: tiles)
                                }
                            }
                            output((tiles.lowerBound * 2)..<min(m / w, tiles.upperBound * 2))
                        }
                    } else {
                        Parallel.forEach(positionCount) { position in
                            Scratch.withFloats(gemmScratch) { gemm(position, count, sharedV!, productsPointer, $0) }
                        }
                        Parallel.forEach(filterParts.count) { output(filterParts[$0]) }
                    }
                }
                } }
                return
            }
            let parts = Parallel.ranges(work)
            Parallel.forEach(parts.count) { part in
                Scratch.withFloats(positionCount * inStride + gemmScratch, positionCount * outStride) { v, products in
                    for item in parts[part] {
                        let image = item / blocksPerImage, blockRange = blockTiles(item), first = blockRange.lowerBound, count = blockRange.count
                        transformInput(x + image * (c / w) * planeFloats, layout, channelBlocks: 0..<(c / w),
                                       first: first, count: count, into: v)
                        for position in 0..<positionCount { gemm(position, count, v, products, v + positionCount * inStride) }
                        transformOutput(products, layout, filterBlocks: 0..<(m / w), first: first, count: count, bias: bias,
                                        residual: residual.map { $0 + image * m * spatialOut }, activation: activation,
                                        into: y + image * m * spatialOut)
                    }
                }
            }
        }
    }

    /// One filter block's side of an output transform (either tile size): where its tiles'
    /// products are, and its stores of Y with the bias, the residual and the activation.
    struct FilterBlockOutput {
        let start: SIMD8<Float>
        let plane: UnsafeMutableRawPointer
        let residualPlane: UnsafeRawPointer?
        let products: UnsafeRawPointer
        let outStride: Int
        let activation: FusedActivation

        @inline(__always)
        init(_ mb: Int, _ products: UnsafePointer<Float>, _ layout: Layout, bias: UnsafePointer<Float>?,
             residual: UnsafePointer<Float>?, activation: FusedActivation, y: UnsafeMutablePointer<Float>) {
            let w = ChannelBlocks.width, spatial = layout.geometry.outHeight * layout.geometry.outWidth
            start = bias.map { UnsafeRawPointer($0 + mb * w).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
            plane = UnsafeMutableRawPointer(y + mb * spatial * w)
            residualPlane = residual.map { UnsafeRawPointer($0 + mb * spatial * w) }
            self.products = UnsafeRawPointer(products + mb * layout.block * w)
            outStride = layout.outStride
            self.activation = activation
        }

        /// Tile `i`'s product at transform position `position`.
        @inline(__always)
        func product(_ i: Int, _ position: Int) -> SIMD8<Float> {
            products.loadUnaligned(fromByteOffset: (position * outStride + i * ChannelBlocks.width) * 4, as: SIMD8<Float>.self)
        }

        /// activation(value + bias + residual) into Y, `offset` bytes into the block's plane.
        @inline(__always)
        func store(_ value: SIMD8<Float>, at offset: Int) {
            var sum = value + start
            if let residualPlane { sum += residualPlane.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) }
            plane.storeBytes(of: activation.apply(sum), toByteOffset: offset, as: SIMD8<Float>.self)
        }
    }

    /// Where the transforms read and write.
    struct Layout {
        let planeFloats, tilesWide, block, inStride, outStride: Int
        /// Output tile side (4 or 2).
        let tile: Int
        let geometry: WindowGeometry
    }

    /// Where tile `tile`'s (side + 2)-square input patch of one block's plane is, and its row
    /// stride in bytes: in X itself when the patch lies inside it, else gathered into `edge`
    /// (side + 2 squared vectors) with zeros for the padding. (Reading X in place spares a
    /// bordered copy of every input: 13 MB per VGG-19 layer at 224x224, 6 % of its time.)
    @inline(__always)
    static func patch(_ blockPlane: UnsafePointer<Float>, _ layout: Layout, tile: Int, edge: UnsafeMutablePointer<SIMD8<Float>>)
        -> (origin: UnsafeRawPointer, rowBytes: Int) {
        let g = layout.geometry, n = layout.tile + 2, w = ChannelBlocks.width
        let top = (tile / layout.tilesWide) * layout.tile - g.padTop, left = (tile % layout.tilesWide) * layout.tile - g.padLeft
        if top >= 0 && left >= 0 && top + n <= g.inHeight && left + n <= g.inWidth {
            return (UnsafeRawPointer(blockPlane + (top * g.inWidth + left) * w), g.inWidth * w * 4)
        }
        for r in 0..<n {
            let ih = top + r, row = blockPlane + ih * g.inWidth * w
            for col in 0..<n {
                let iw = left + col
                edge[r * n + col] = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth
                    ? UnsafeRawPointer(row + iw * w).loadUnaligned(as: SIMD8<Float>.self) : SIMD8()
            }
        }
        return (UnsafeRawPointer(edge), n * w * 4)
    }

    /// V = B^T d B for tiles first ..< first + count of the given channel blocks, eight channels
    /// per vector: a patch's 36 vectors (`patch`), columns then rows, into
    /// V[position][channel block][tile][8].
    @inline(never)
    static func transformInput(_ plane: UnsafePointer<Float>, _ layout: Layout, channelBlocks: Range<Int>, first: Int, count: Int,
                               into v: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width
        if layout.tile == 2 {
            transformInput2(plane, layout, channelBlocks: channelBlocks, first: first, count: count, into: v)
            return
        }
        if layout.tile == 6 {
            transformInput6(plane, layout, channelBlocks: channelBlocks, first: first, count: count, into: v)
            return
        }
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 72) { rows in
            let edge = rows.baseAddress! + 36
            for cb in channelBlocks {
                let blockPlane = plane + cb * layout.planeFloats
                for i in 0..<count {
                    let (origin, rowBytes) = patch(blockPlane, layout, tile: first + i, edge: edge)
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
        let w = ChannelBlocks.width, g = layout.geometry
        if layout.tile == 2 {
            transformOutput2(products, layout, filterBlocks: filterBlocks, first: first, count: count, bias: bias, residual: residual,
                             activation: activation, into: y)
            return
        }
        if layout.tile == 6 {
            transformOutput6(products, layout, filterBlocks: filterBlocks, first: first, count: count, bias: bias, residual: residual,
                             activation: activation, into: y)
            return
        }
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 24) { rows in
            for mb in filterBlocks {
                let out = FilterBlockOutput(mb, products, layout, bias: bias, residual: residual, activation: activation, y: y)
                for i in 0..<count {
                    func load(_ position: Int) -> SIMD8<Float> { out.product(i, position) }
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
                        let offset = ((top + r) * g.outWidth + left) * w * 4
                        out.store(line.0, at: offset)
                        if width > 1 { out.store(line.1, at: offset + w * 4) }
                        if width > 2 { out.store(line.2, at: offset + 2 * w * 4) }
                        if width > 3 { out.store(line.3, at: offset + 3 * w * 4) }
                    }
                }
            }
        }
    }

    /// F(2x2, 3x3)'s V = B^T d B over 4x4 patches (2 pixels apart), as `transformInput`; B^T is
    /// [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
    @inline(never)
    static func transformInput2(_ plane: UnsafePointer<Float>, _ layout: Layout, channelBlocks: Range<Int>, first: Int, count: Int,
                                into v: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width
        @inline(__always) func line(_ d0: SIMD8<Float>, _ d1: SIMD8<Float>, _ d2: SIMD8<Float>, _ d3: SIMD8<Float>)
            -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
            (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 16) { edgeBuffer in
            let edge = edgeBuffer.baseAddress!
            for cb in channelBlocks {
                let blockPlane = plane + cb * layout.planeFloats
                for i in 0..<count {
                    let (origin, rowBytes) = patch(blockPlane, layout, tile: first + i, edge: edge)
                    func d(_ r: Int, _ col: Int) -> SIMD8<Float> {
                        origin.loadUnaligned(fromByteOffset: r * rowBytes + col * w * 4, as: SIMD8<Float>.self)
                    }
                    // Columns: t = B^T d, then rows: V = t B, position r * 4 + j.
                    let c0 = line(d(0, 0), d(1, 0), d(2, 0), d(3, 0)), c1 = line(d(0, 1), d(1, 1), d(2, 1), d(3, 1))
                    let c2 = line(d(0, 2), d(1, 2), d(2, 2), d(3, 2)), c3 = line(d(0, 3), d(1, 3), d(2, 3), d(3, 3))
                    let target = UnsafeMutableRawPointer(v + (cb * layout.block + i) * w)
                    func store(_ r: Int, _ row: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
                        let stride = layout.inStride * 4
                        target.storeBytes(of: row.0, toByteOffset: (r * 4) * stride, as: SIMD8<Float>.self)
                        target.storeBytes(of: row.1, toByteOffset: (r * 4 + 1) * stride, as: SIMD8<Float>.self)
                        target.storeBytes(of: row.2, toByteOffset: (r * 4 + 2) * stride, as: SIMD8<Float>.self)
                        target.storeBytes(of: row.3, toByteOffset: (r * 4 + 3) * stride, as: SIMD8<Float>.self)
                    }
                    store(0, line(c0.0, c1.0, c2.0, c3.0))
                    store(1, line(c0.1, c1.1, c2.1, c3.1))
                    store(2, line(c0.2, c1.2, c2.2, c3.2))
                    store(3, line(c0.3, c1.3, c2.3, c3.3))
                }
            }
        }
    }

    /// F(2x2, 3x3)'s Y = A^T M A per tile and filter block (A^T is [1 1 1 0; 0 1 -1 -1]), plus
    /// bias and residual, through the activation; stores the part of each 2x2 tile inside the output.
    @inline(never)
    static func transformOutput2(_ products: UnsafePointer<Float>, _ layout: Layout, filterBlocks: Range<Int>, first: Int, count: Int,
                                 bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                                 into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, g = layout.geometry
        @inline(__always) func line(_ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>)
            -> (SIMD8<Float>, SIMD8<Float>) {
            (m0 + m1 + m2, m1 - m2 - m3)
        }
        for mb in filterBlocks {
            let out = FilterBlockOutput(mb, products, layout, bias: bias, residual: residual, activation: activation, y: y)
            for i in 0..<count {
                func load(_ position: Int) -> SIMD8<Float> { out.product(i, position) }
                // Columns: t = A^T M (2x4), then rows: Y = t A.
                let c0 = line(load(0), load(4), load(8), load(12)), c1 = line(load(1), load(5), load(9), load(13))
                let c2 = line(load(2), load(6), load(10), load(14)), c3 = line(load(3), load(7), load(11), load(15))
                let tile = first + i
                let top = (tile / layout.tilesWide) * 2, left = (tile % layout.tilesWide) * 2
                let height = min(2, g.outHeight - top), width = min(2, g.outWidth - left)
                for r in 0..<height {
                    let values = r == 0 ? line(c0.0, c1.0, c2.0, c3.0) : line(c0.1, c1.1, c2.1, c3.1)
                    let offset = ((top + r) * g.outWidth + left) * w * 4
                    out.store(values.0, at: offset)
                    if width > 1 { out.store(values.1, at: offset + w * 4) }
                }
            }
        }
    }

    /// F(6x6, 3x3)'s B^T on one line of eight (a column, then a row of an 8x8 patch); `store(j,
    /// value)` takes its eight results. Rows of B^T: [1 0 -21/4 0 21/4 0 -1 0],
    /// [0 1 1 -17/4 -17/4 1 1 0], [0 -1 1 17/4 -17/4 -1 1 0], [0 1/2 1/4 -5/2 -5/4 2 1 0],
    /// [0 -1/2 1/4 5/2 -5/4 -2 1 0], [0 2 4 -5/2 -5 1/2 1 0], [0 -2 4 5/2 -5 -1/2 1 0],
    /// [0 -1 0 21/4 0 -21/4 0 1]; the pairs share their even and odd halves.
    @inline(__always)
    static func inputLine6(_ d: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                                 SIMD8<Float>), _ store: (Int, SIMD8<Float>) -> Void) {
        let (d0, d1, d2, d3, d4, d5, d6, d7) = d
        store(0, d0 - d6 + 5.25 * (d4 - d2))
        store(7, d7 - d1 + 5.25 * (d3 - d5))
        let even1 = d2 + d6 - 4.25 * d4, odd1 = d1 + d5 - 4.25 * d3
        store(1, even1 + odd1)
        store(2, even1 - odd1)
        let even3 = d6 + 0.25 * d2 - 1.25 * d4, odd3 = 0.5 * d1 - 2.5 * d3 + 2 * d5
        store(3, even3 + odd3)
        store(4, even3 - odd3)
        let even5 = d6 + 4 * d2 - 5 * d4, odd5 = 2 * d1 - 2.5 * d3 + 0.5 * d5
        store(5, even5 + odd5)
        store(6, even5 - odd5)
    }

    /// F(6x6, 3x3)'s A^T on one line of eight products: rows [1 1 1 1 1 1 1 0] and
    /// [0 1 (-1)^k 2^k (-2)^k 2^-k (-2)^-k 0] for k = 1 ..< 6, the last plus m7.
    @inline(__always)
    static func outputLine6(_ m: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                                  SIMD8<Float>)) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let a = m.1 + m.2, b = m.1 - m.2, c = m.3 + m.4, d = m.3 - m.4, e = m.5 + m.6, f = m.5 - m.6
        return (m.0 + a + c + e, b + 2 * d + 0.5 * f, a + 4 * c + 0.25 * e, b + 8 * d + 0.125 * f, a + 16 * c + 0.0625 * e,
                b + 32 * d + 0.03125 * f + m.7)
    }

    /// F(6x6, 3x3)'s V = B^T d B over 8x8 patches (6 pixels apart), as `transformInput`.
    @inline(never)
    static func transformInput6(_ plane: UnsafePointer<Float>, _ layout: Layout, channelBlocks: Range<Int>, first: Int, count: Int,
                                into v: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 128) { buffer in
            let rows = buffer.baseAddress!, edge = rows + 64
            for cb in channelBlocks {
                let blockPlane = plane + cb * layout.planeFloats
                for i in 0..<count {
                    let (origin, rowBytes) = patch(blockPlane, layout, tile: first + i, edge: edge)
                    // Columns: t = B^T d.
                    for col in 0..<8 {
                        func d(_ r: Int) -> SIMD8<Float> { origin.loadUnaligned(fromByteOffset: r * rowBytes + col * w * 4, as: SIMD8<Float>.self) }
                        inputLine6((d(0), d(1), d(2), d(3), d(4), d(5), d(6), d(7))) { rows[$0 * 8 + col] = $1 }
                    }
                    // Rows: V = t B, position r * 8 + j.
                    let target = UnsafeMutableRawPointer(v + (cb * layout.block + i) * w)
                    for r in 0..<8 {
                        let t = rows + r * 8
                        inputLine6((t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7])) { j, value in
                            target.storeBytes(of: value, toByteOffset: (r * 8 + j) * layout.inStride * 4, as: SIMD8<Float>.self)
                        }
                    }
                }
            }
        }
    }

    /// F(6x6, 3x3)'s Y = A^T M A per tile and filter block, plus bias and residual, through the
    /// activation; stores the part of each 6x6 tile inside the output.
    @inline(never)
    static func transformOutput6(_ products: UnsafePointer<Float>, _ layout: Layout, filterBlocks: Range<Int>, first: Int, count: Int,
                                 bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                                 into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, g = layout.geometry
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 48) { buffer in
            let rows = buffer.baseAddress!
            for mb in filterBlocks {
                let out = FilterBlockOutput(mb, products, layout, bias: bias, residual: residual, activation: activation, y: y)
                for i in 0..<count {
                    func load(_ position: Int) -> SIMD8<Float> { out.product(i, position) }
                    // Columns: t = A^T M (6x8).
                    for col in 0..<8 {
                        let t = outputLine6((load(col), load(8 + col), load(16 + col), load(24 + col), load(32 + col), load(40 + col),
                                             load(48 + col), load(56 + col)))
                        (rows[col], rows[8 + col], rows[16 + col], rows[24 + col], rows[32 + col], rows[40 + col]) = t
                    }
                    // Rows: Y = t A, the part inside the output stored.
                    let tile = first + i
                    let top = (tile / layout.tilesWide) * 6, left = (tile % layout.tilesWide) * 6
                    let height = min(6, g.outHeight - top), width = min(6, g.outWidth - left)
                    for r in 0..<height {
                        let t = rows + r * 8
                        let line = outputLine6((t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]))
                        let offset = ((top + r) * g.outWidth + left) * w * 4, step = w * 4
                        out.store(line.0, at: offset)
                        if width > 1 { out.store(line.1, at: offset + step) }
                        if width > 2 { out.store(line.2, at: offset + 2 * step) }
                        if width > 3 { out.store(line.3, at: offset + 3 * step) }
                        if width > 4 { out.store(line.4, at: offset + 4 * step) }
                        if width > 5 { out.store(line.5, at: offset + 5 * step) }
                    }
                }
            }
        }
    }
}
