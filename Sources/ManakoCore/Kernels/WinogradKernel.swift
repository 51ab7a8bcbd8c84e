import CManakoSIMD
/// 3x3 stride-1 convolution by Winograd F(4x4, 3x3): each 4x4 output tile is A^T [(G g G^T) . (B^T d B)] A
/// over a 6x6 input tile d, so the 36 transform-domain products of all tiles become 36 GEMMs
/// [M, C] x [C, tiles] (PanelGemm): 36 multiplies per 16 outputs instead of 144.
/// Layout: input [N, C, H, W], weights [M, C, 3, 3], output [N, M, OH, OW]; tiles are processed in
/// blocks (transformed input [36][C][block], products [36][M][block], each position's matrix one
/// cache line past a multiple of 4 KiB so that a tile's 36 values do not share an L1 set) split
/// across threads.
/// Twin: `ConvKernels.reference`; the transforms add rounding error of about 1e-5 relative.
public enum WinogradKernel {
    /// Transformed weights: one packed [M, C] GEMM operand per transform position.
    public struct Weights: Sendable {
        public let outChannels: Int
        public let inChannels: Int
        let positions: [PanelGemm.PackedA]
    }

    /// Below this many 4x4 tiles per image (a 14x14 output has 16) the padding of partial tiles and
    /// of the GEMM's 16 columns costs more than Winograd saves: such layers take the GEMM path.
    public static let minimumTiles = 16

    /// Whether a convolution of this shape takes the Winograd path (given enough tiles).
    public static func applies(kernel: (Int, Int), strides: (Int, Int), dilations: (Int, Int), groups: Int,
                               inChannels: Int, outChannels: Int) -> Bool {
        kernel == (3, 3) && strides == (1, 1) && dilations == (1, 1) && groups == 1 && inChannels >= 8 && outChannels >= 8
    }

    /// U = G g G^T per filter and channel, gathered per position into GEMM operands (once, at load).
    public static func transformWeights(_ weights: [Float], outChannels m: Int, inChannels c: Int) -> Weights {
        var positions: [PanelGemm.PackedA] = []
        forEachTransformedRow(weights, outChannels: m, inChannels: c, g: filterTransform4, n: 6) { u in
            positions += (0..<6).map { PanelGemm.PackedA(u + $0 * m * c, rows: m, depth: c, rowStride: c) }
        }
        return Weights(outChannels: m, inChannels: c, positions: positions)
    }

    /// F(2x2, 3x3)'s G, row by row (4x3).
    static let filterTransform2: [Double] = [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1]

    /// F(4x4, 3x3)'s G, row by row (6x3).
    static let filterTransform4: [Double] = [1.0 / 4, 0, 0, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
                                             1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 24, -1.0 / 12, 1.0 / 6, 0, 0, 1]

    /// U = G g G^T of every filter and channel (in double precision) for an n x 3 G given row by
    /// row, handed to `body` one row of the n x n positions at a time, as [column j][m][c]: row
    /// i's three sums (G k)[i] serve its n positions, so the weights are read once per row (not
    /// per position, which took ResNet-50's three 512-channel layers 32 ms of its load) and the
    /// buffer holds n positions, not n^2 (the whole U was 90 MB of fresh memory in ResNet-50's
    /// load, a fifth of what it touched).
    static func forEachTransformedRow(_ weights: [Float], outChannels m: Int, inChannels c: Int, g: [Double], n: Int,
                                      _ body: (UnsafePointer<Float>) -> Void) {
        let count = m * c
        // Every element is written for each row before `body` reads it: no zero fill first.
        var u = [Float](unsafeUninitializedCapacity: n * count) { _, initialized in initialized = n * count }
        weights.withUnsafeBufferPointer { w in
            u.withUnsafeMutableBufferPointer { u in
                let u = u.baseAddress!
                for i in 0..<n {
                    let (gi0, gi1, gi2) = (g[i * 3], g[i * 3 + 1], g[i * 3 + 2])
                    for index in 0..<count {
                        let k = w.baseAddress! + index * 9
                        // (G k)[i] column by column, then times G[j] for each position j of the row.
                        func column(_ b: Int) -> Double { gi0 * Double(k[b]) + gi1 * Double(k[3 + b]) + gi2 * Double(k[6 + b]) }
                        let (c0, c1, c2) = (column(0), column(1), column(2))
                        for j in 0..<n {
                            u[j * count + index] = Float(c0 * g[j * 3] + c1 * g[j * 3 + 1] + c2 * g[j * 3 + 2])
                        }
                    }
                    body(u)
                }
            }
        }
    }

    /// B^T applied to one line (a column, then a row) of a 6x6 input patch, eight lanes at once:
    /// `store(j, value)` takes the line's six results.
    @inline(__always)
    static func inputLine(_ d0: SIMD8<Float>, _ d1: SIMD8<Float>, _ d2: SIMD8<Float>, _ d3: SIMD8<Float>, _ d4: SIMD8<Float>,
                          _ d5: SIMD8<Float>, _ store: (Int, SIMD8<Float>) -> Void) {
        store(0, 4 * d0 - 5 * d2 + d4)
        store(1, -4 * (d1 + d2) + d3 + d4)
        store(2, 4 * (d1 - d2) - d3 + d4)
        store(3, 2 * (d3 - d1) - d2 + d4)
        store(4, 2 * (d1 - d3) - d2 + d4)
        store(5, 4 * d1 - 5 * d3 + d5)
    }

    /// A^T applied to one line (a column, then a row) of six transform-domain products.
    @inline(__always)
    static func outputLine(_ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>, _ m4: SIMD8<Float>,
                           _ m5: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4
        return (m0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + m5)
    }

    public static func run(input: [Float], weights: Weights, bias: [Float]?, geometry g: WindowGeometry,
                           activation: FusedActivation, residual: [Float]?) -> [Float] {
        let m = weights.outChannels, c = weights.inChannels
        let tilesHigh = (g.outHeight + 3) / 4, tilesWide = (g.outWidth + 3) / 4
        let tiles = tilesHigh * tilesWide
        let block = tileBlock(tiles: tiles, inChannels: c, outChannels: m)
        let blocksPerImage = (tiles + block - 1) / block
        // Each transform position's matrix starts a cache line past a multiple of 4 KiB: at c x block
        // floats (a multiple of 1024) the 36 vectors a tile stores or loads would all map to one L1 set.
        let inStride = positionStride(c * block), outStride = positionStride(m * block)
        let spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        let total = g.batch * m * spatialOut
        return BufferPool.floats(total) { output in
            input.withUnsafeBufferPointer { xb in
                bias.withOptionalPointer { biasPointer in
                    residual.withOptionalPointer { residualPointer in
                        let y = output.baseAddress!
                        let work = g.batch * blocksPerImage
                        let threads = Parallel.threads
                        if threads > 1 && work < 2 * threads && work % threads != 0 {
                            // Few blocks (small planes): split each block's stages instead, the
                            // input transform by channel, then (with more filters than channels)
                            // the products and the output transform by panels of filters, one part
                            // per thread, or the products by position and the output transform by
                            // filter: what crosses between cores is the smaller (see
                            // `BlockedWinogradKernel`).
                            Scratch.withFloats(36 * inStride, 36 * outStride) { v, products in
                            let channelParts = Parallel.ranges(c), byFilters = m > c, allPanels = 0..<((m + 5) / 6)
                            // One split of the filters: panels of six with the products, else single filters.
                            let filterParts = byFilters ? Parallel.evenParts(of: allPanels.count, count: threads) : Parallel.ranges(m)
                            for item in 0..<work {
                                let image = item / blocksPerImage
                                let first = (item % blocksPerImage) * block, count = min(block, tiles - first)
                                let x = xb.baseAddress! + image * c * spatialIn
                                Parallel.forEach(channelParts.count) { part in
                                    transformInput(x, channels: c, only: channelParts[part], geometry: g, tilesWide: tilesWide,
                                                   first: first, count: count, block: block, into: v, positionStride: inStride)
                                }
                                func multiply(_ position: Int, _ panelRange: Range<Int>) {
                                    PanelGemm.withPanels(weights.positions[position]) { panels in
                                        PanelGemm.multiplyPacked(panels, rows: m, depth: c, panelStride: c * 6, panels: panelRange,
                                                                 packedB: v + position * inStride, columns: 0..<count, ldc: block,
                                                                 bias: nil, residual: nil, activation: .none,
                                                                 into: products + position * outStride)
                                    }
                                }
                                func output(_ filters: Range<Int>) {
                                    transformOutput(products, positionStride: outStride, outChannels: m, only: filters, geometry: g, tilesWide: tilesWide,
                                                    first: first, count: count, block: block, bias: biasPointer,
                                                    residual: residualPointer.map { $0 + image * m * spatialOut },
                                                    activation: activation, into: y + image * m * spatialOut)
                                }
                                if byFilters {
                                    Parallel.forEach(filterParts.count) { part in
                                        let panels = filterParts[part]
                                        for position in 0..<36 { multiply(position, panels) }
                                        output((panels.lowerBound * 6)..<min(m, panels.upperBound * 6))
                                    }
                                } else {
                                    Parallel.forEach(36) { multiply($0, allPanels) }
                                    Parallel.forEach(filterParts.count) { output(filterParts[$0]) }
                                }
                            }
                            }
                            return
                        }
                        let parts = Parallel.ranges(work)
                        Parallel.forEach(parts.count) { part in
                            Scratch.withFloats(36 * inStride, 36 * outStride) { v, products in
                            for item in parts[part] {
                                let image = item / blocksPerImage
                                let first = (item % blocksPerImage) * block, count = min(block, tiles - first)
                                let x = xb.baseAddress! + image * c * spatialIn
                                transformInput(x, channels: c, only: 0..<c, geometry: g, tilesWide: tilesWide, first: first,
                                               count: count, block: block, into: v, positionStride: inStride)
                                // V is already in the GEMM's packed-B layout: no copies between the transform and the products.
                                // Only the block's `count` tiles are multiplied: product lanes past them hold stale values,
                                // which the output transform computes on but never stores.
                                for position in 0..<36 {
                                    PanelGemm.withPanels(weights.positions[position]) { panels in
                                        PanelGemm.multiplyPacked(panels, rows: m, depth: c, panelStride: c * 6, panels: 0..<((m + 5) / 6),
                                                                 packedB: v + position * inStride, columns: 0..<count, ldc: block,
                                                                 bias: nil, residual: nil, activation: .none,
                                                                 into: products + position * outStride)
                                    }
                                }
                                transformOutput(products, positionStride: outStride, outChannels: m, only: 0..<m, geometry: g, tilesWide: tilesWide, first: first,
                                                count: count, block: block, bias: biasPointer,
                                                residual: residualPointer.map { $0 + image * m * spatialOut },
                                                activation: activation, into: y + image * m * spatialOut)
                            }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Tiles per block: a multiple of the GEMM's 16 columns, the blocks of an image equal in size.
    /// The transformed input stays near 1 MB, except where the transformed weights pass 16 MB
    /// (36 x C x M floats: 37.7 MB for 512 -> 512), which stream from memory once per block:
    /// there blocks grow up to 8 MB (all 49 tiles of a 28x28 plane in one).
    /// `multiple` is the GEMM's unit of tiles (16 columns here, a 6-row panel in the blocked kernel).
    /// A plane of four units or more takes two blocks at least, whatever the thread count (so the
    /// same bits on any): on two threads each takes one block, the half of the plane it
    /// transforms, multiplies and writes, instead of every stage splitting by channels or filters
    /// and its data crossing between cores (SqueezeNet 9 % faster on two threads, level on one).
    /// Not where the weights stream from memory: a second block streams them all again (VGG-19's
    /// 512-channel layers at 28x28 took 12 % longer so, on one thread and on two).
    /// Layers of 256 channels or more whose weights stay in L3 (9.4 MB for 256 -> 256) read
    /// them once per block: there the transformed input may reach 2 MB, half as many blocks
    /// (VGG-19's 56x56 layers in 4 blocks of 54 tiles, not 9 of 24: the whole network 1.4 %
    /// faster on one thread, 4 % on two; 2 blocks of 102 were 0.6 % slower than 4).
    static func tileBlock(tiles: Int, inChannels c: Int, outChannels m: Int, multiple: Int = 16, positions: Int = 36) -> Int {
        let streamsWeights = self.streamsWeights(inChannels: c, outChannels: m)
        let budget = streamsWeights ? 1 << 21 : max(c, m) >= 256 ? 1 << 19 : 1 << 18  // floats
        let largest = max(multiple, budget / (positions * max(c, m)) / multiple * multiple)
        let blocks = max((tiles + largest - 1) / largest, tiles >= 4 * multiple && !streamsWeights ? 2 : 1)
        return ((tiles + blocks - 1) / blocks + multiple - 1) / multiple * multiple
    }

    /// Whether F(4x4)'s transformed weights (36 x C x M floats) pass 16 MB, the L3: then they
    /// stream from memory once per block of tiles.
    static func streamsWeights(inChannels c: Int, outChannels m: Int) -> Bool { 36 * c * m > 1 << 22 }

    /// Floats from one transform position's matrix of `floats` to the next: a cache line more
    /// than a multiple of 1024.
    static func positionStride(_ floats: Int) -> Int { (floats + 1023) / 1024 * 1024 + 16 }

    /// V = B^T d B for tiles first..<first+count of every channel, eight tiles per vector;
    /// written per position in PanelGemm's packed-B layout [block / 16][channel][16] (lanes past
    /// `count` are zero). Each row of the 6x6 patches of eight tiles goes into a lane-minor
    /// staging buffer through one register transpose (`mk_gather_transpose6x8`), so the
    /// arithmetic is 8-wide: a patch inside the input is read in place, one that crosses its
    /// edge from a zero-padded copy (36 scalar moves per tile took most of the transform's time).
    static func transformInput(_ x: UnsafePointer<Float>, channels: Int, only selected: Range<Int>, geometry g: WindowGeometry, tilesWide: Int,
                               first: Int, count: Int, block: Int, into v: UnsafeMutablePointer<Float>, positionStride: Int) {
        let staging = UnsafeMutablePointer<Float>.allocate(capacity: 36 * 8)
        defer { staging.deallocate() }
        let origins = (0..<count).map { (top: ((first + $0) / tilesWide) * 4 - g.padTop, left: ((first + $0) % tilesWide) * 4 - g.padLeft) }
        let inside = origins.map { top, left in top >= 0 && left >= 0 && top + 6 <= g.inHeight && left + 6 <= g.inWidth }
        let patch = UnsafeRawPointer(staging)
        func d(_ i: Int) -> SIMD8<Float> { patch.loadUnaligned(fromByteOffset: i * 32, as: SIMD8<Float>.self) }
        let rows = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 36)
        defer { rows.deallocate() }
        // Per lane: where its patch's first row starts and the step to the next row. Edge patches
        // (rows 6 apart) are built in `copies`; lanes past `count` read the zero patch after them.
        let starts = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 8), steps = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        let patchRows = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: 8)
        let copies = UnsafeMutablePointer<Float>.allocate(capacity: 9 * 36)
        defer { starts.deallocate(); steps.deallocate(); patchRows.deallocate(); copies.deallocate() }
        (copies + 8 * 36).initialize(repeating: 0, count: 36)
        // The input rows the block's patches cover: while one channel is transformed, the next
        // one's rows are prefetched (a block reads a few short rows per plane, too short for
        // the hardware prefetcher, and the planes come from L3).
        let firstRow = max(0, origins.first.map { $0.top } ?? 0), endRow = min(g.inHeight, (origins.last.map { $0.top } ?? 0) + 6)
        let planeSize = g.inHeight * g.inWidth
        for channel in selected {
            let plane = x + channel * planeSize
            if channel + 1 < selected.upperBound {
                let next = UnsafeRawPointer(plane + planeSize)
                var offset = firstRow * g.inWidth * 4
                while offset < endRow * g.inWidth * 4 {
                    mk_prefetch(next + offset)
                    offset += 64
                }
            }
            var lane0 = 0
            while lane0 < block {
                for lane in 0..<8 {
                    let tile = lane0 + lane
                    if tile >= count {
                        starts[lane] = UnsafePointer(copies + 8 * 36)
                        steps[lane] = 6
                        continue
                    }
                    let (top, left) = origins[tile]
                    if inside[tile] {
                        starts[lane] = plane + top * g.inWidth + left
                        steps[lane] = g.inWidth
                        continue
                    }
                    let copy = copies + lane * 36
                    for r in 0..<6 {
                        let row = top + r
                        for col in 0..<6 {
                            let column = left + col
                            let within = row >= 0 && row < g.inHeight && column >= 0 && column < g.inWidth
                            copy[r * 6 + col] = within ? plane[row * g.inWidth + column] : 0
                        }
                    }
                    starts[lane] = UnsafePointer(copy)
                    steps[lane] = 6
                }
                for r in 0..<6 {
                    for lane in 0..<8 { patchRows[lane] = starts[lane] + r * steps[lane] }
                    mk_gather_transpose6x8(patchRows, staging + r * 48)
                }
                // Rows: t = B^T d (per column), then columns: V = t B.
                for col in 0..<6 {
                    inputLine(d(col), d(6 + col), d(12 + col), d(18 + col), d(24 + col), d(30 + col)) { rows[$0 * 6 + col] = $1 }
                }
                for r in 0..<6 {
                    let base = v + r * 6 * positionStride + ((lane0 / 16) * channels + channel) * 16 + lane0 % 16
                    let step = positionStride
                    func store(_ j: Int, _ value: SIMD8<Float>) { UnsafeMutableRawPointer(base + j * step).storeBytes(of: value, as: SIMD8<Float>.self) }
                    inputLine(rows[r * 6], rows[r * 6 + 1], rows[r * 6 + 2], rows[r * 6 + 3], rows[r * 6 + 4], rows[r * 6 + 5], store)
                }
                lane0 += 8
            }
        }
    }

    /// Y = A^T M A per tile and filter, plus bias and residual, then the activation (in registers
    /// when there is no residual); stores the part of each 4x4 tile inside the output: eight whole
    /// tiles by transposing each row of four vectors into place (`mk_scatter_transpose4x8`), the
    /// rest element by element from the lane-minor staging buffer.
    static func transformOutput(_ products: UnsafePointer<Float>, positionStride: Int, outChannels m: Int, only selected: Range<Int>,
                                geometry g: WindowGeometry, tilesWide: Int, first: Int, count: Int, block: Int, bias: UnsafePointer<Float>?,
                                residual: UnsafePointer<Float>?, activation: FusedActivation, into y: UnsafeMutablePointer<Float>) {
        let rows = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 24)
        let staging = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 16)
        defer { rows.deallocate(); staging.deallocate() }
        let lanesOut = UnsafeRawPointer(staging).assumingMemoryBound(to: Float.self)
        let targets = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: 8)
        defer { targets.deallocate() }
        // Top-left output position of each tile of the block, and how much of its 4x4 is inside.
        let origins = (0..<count).map { (top: ((first + $0) / tilesWide) * 4, left: ((first + $0) % tilesWide) * 4) }
        let extents = origins.map { (height: min(4, g.outHeight - $0.top), width: min(4, g.outWidth - $0.left)) }
        let fullTiles = stride(from: 0, to: count, by: 8).map { start in
            start + 8 <= count && extents[start..<(start + 8)].allSatisfy { $0 == (4, 4) }
        }
        let spatial = g.outHeight * g.outWidth
        for filter in selected {
            let plane = y + filter * spatial
            let residualPlane = residual.map { $0 + filter * spatial }
            let start = SIMD8<Float>(repeating: bias?[filter] ?? 0)
            var lane0 = 0
            while lane0 < count {
                let source = UnsafeRawPointer(products + filter * block + lane0), step = positionStride * 4
                func load(_ position: Int) -> SIMD8<Float> { source.loadUnaligned(fromByteOffset: position * step, as: SIMD8<Float>.self) }
                // Columns: t = A^T M (4x6), then rows: Y = t A (4x4).
                for col in 0..<6 {
                    (rows[col], rows[6 + col], rows[12 + col], rows[18 + col])
                        = outputLine(load(col), load(6 + col), load(12 + col), load(18 + col), load(24 + col), load(30 + col))
                }
                for r in 0..<4 {
                    let line = outputLine(rows[r * 6], rows[r * 6 + 1], rows[r * 6 + 2], rows[r * 6 + 3], rows[r * 6 + 4], rows[r * 6 + 5])
                    staging[r * 4] = line.0 + start
                    staging[r * 4 + 1] = line.1 + start
                    staging[r * 4 + 2] = line.2 + start
                    staging[r * 4 + 3] = line.3 + start
                }
                // Without a residual the activation runs here, on sixteen full vectors; with one
                // it must follow the residual's addition, element by element below.
                if residualPlane == nil && activation != .none {
                    for i in 0..<16 { staging[i] = activation.apply(staging[i]) }
                }
                let lanes = min(8, count - lane0)
                if lanes == 8 && residualPlane == nil && fullTiles[lane0 / 8] {
                    // Eight whole tiles: each row of four vectors transposed to the tiles' places.
                    for r in 0..<4 {
                        for lane in 0..<8 { targets[lane] = plane + (origins[lane0 + lane].top + r) * g.outWidth + origins[lane0 + lane].left }
                        mk_scatter_transpose4x8(lanesOut + r * 32, targets)
                    }
                    lane0 += 8
                    continue
                }
                for lane in 0..<lanes {
                    let (top, left) = origins[lane0 + lane], (height, width) = extents[lane0 + lane]
                    for r in 0..<height {
                        let index = (top + r) * g.outWidth + left
                        for j in 0..<width {
                            var value = lanesOut[(r * 4 + j) * 8 + lane]
                            if let residualPlane {
                                value = activation.apply(SIMD8(repeating: value + residualPlane[index + j]))[0]
                            }
                            plane[index + j] = value
                        }
                    }
                }
                lane0 += 8
            }
        }
    }
}
