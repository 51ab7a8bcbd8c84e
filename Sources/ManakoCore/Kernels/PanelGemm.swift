import CManakoSIMD

/// C = A * B + bias (per row), then an optional residual and activation, for convolutions.
/// A 6x16 register tile: A is packed into panels of 6 rows (k-major), B is read in place 16
/// columns at a time; 12 eight-lane accumulators, one FMA per broadcast A value and B vector.
/// Layout: A [M, K] row-major (weights), B [K, N] row-major (activations, ldb = N), C [M, N].
/// Twin: `GemmKernel.referenceGemm`, tested on awkward sizes.
public enum PanelGemm {
    static let rowsPerPanel = 6
    static let columnsPerTile = 16

    /// Panels per range for `panels` split into the fewest ranges of at most `most`, made even:
    /// 33 panels by 8 make five ranges of at most seven, not four of eight and one of one (which
    /// would pass all the weights for six rows).
    static func evenRangeSize(_ panels: Int, atMost most: Int) -> Int {
        let ranges = max(1, (panels + most - 1) / most)
        return max(1, (panels + ranges - 1) / ranges)
    }

    /// A packed into ceil(M / 6) panels of K x 6, missing rows zero, and two zeros past the end
    /// (the single-column tile reads a panel's six values as one eight-lane vector).
    public struct PackedA: Sendable {
        public let rows: Int
        public let depth: Int
        let values: [Float]

        public init(_ a: UnsafePointer<Float>, rows: Int, depth: Int, rowStride: Int) {
            self.rows = rows
            self.depth = depth
            let panels = (rows + rowsPerPanel - 1) / rowsPerPanel
            // Empty: never let the initializer below touch the shared empty-array storage.
            if panels * depth == 0 {
                values = []
                return
            }
            values = [Float].uninitialized(capacity: panels * depth * rowsPerPanel + 2) { out, initialized in
                let o = out.baseAddress!
                for panel in 0..<panels {
                    if (panel + 1) * rowsPerPanel <= rows {
                        // A whole panel: six rows read side by side, without a test per element.
                        let first = a + panel * rowsPerPanel * rowStride, target = o + panel * depth * rowsPerPanel
                        for k in 0..<depth {
                            for r in 0..<rowsPerPanel { (target + k * rowsPerPanel + r).initialize(to: first[r * rowStride + k]) }
                        }
                        continue
                    }
                    for k in 0..<depth {
                        for r in 0..<rowsPerPanel {
                            let row = panel * rowsPerPanel + r
                            (o + (panel * depth + k) * rowsPerPanel + r).initialize(to: row < rows ? a[row * rowStride + k] : 0)
                        }
                    }
                }
                (o + panels * depth * rowsPerPanel).initialize(repeating: 0, count: 2)
                initialized = panels * depth * rowsPerPanel + 2
            }
        }
    }

    /// B given row by row: row k's N floats start at `rows[k]` (the parts of a Concat read where
    /// they are), each optionally mapped through `activation(x * scale[k] + shift[k])` (a
    /// BatchNormalization and its activation on the Concat) while B is packed.
    public struct RowSource {
        public let rows: UnsafePointer<UnsafePointer<Float>>
        public let scale: UnsafePointer<Float>?
        public let shift: UnsafePointer<Float>?
        public let activation: FusedActivation

        public init(rows: UnsafePointer<UnsafePointer<Float>>, scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil,
                    activation: FusedActivation = .none) {
            self.rows = rows
            self.scale = scale
            self.shift = shift
            self.activation = activation
        }
    }

    /// Computes C[M, N] = A * B + bias, adds `residual` (same layout as C) if given, applies
    /// `activation`. BLIS-style blocking: K in slices of at most 256, so one packed 16-column tile
    /// of B's slice stays in L1 while panels of A stream past it from L2 (`multiplyPacked`);
    /// columns in blocks whose packed B slice ([tile][slice][16], zero-padded) stays in L2;
    /// C accumulates across slices and the epilogue runs with the last one. Work items are column
    /// blocks, or panel ranges of blocks when there are few blocks; every
    /// element's sum runs in one fixed order, so the result does not depend on the thread count.
    public static func multiply(_ a: PackedA, _ b: UnsafePointer<Float>, columns n: Int, bias: UnsafePointer<Float>?,
                                residual: UnsafePointer<Float>?, activation: FusedActivation, into c: UnsafeMutablePointer<Float>) {
        let m = a.rows, k = a.depth
        guard m > 0, n > 0 else { return }
        let panels = (m + rowsPerPanel - 1) / rowsPerPanel
        // One column of B (a squeeze-excitation layer's pooled vector) needs no slices of K: A
        // then streams once, front to back (slices read it in 5 KB pieces 27 KB apart, which
        // the prefetcher followed badly from memory: 48x1152 took 22 us).
        let sliceDepth = n == 1 ? k : depthPerSlice(k)
        let threads = Parallel.threads
        let direct = panels <= 4 || (panels <= directPanels && k > 64)
        if direct {
            // B read in place: threads split the columns (every panel per item), so each tile of
            // B is read by one thread; panel ranges would each stream all of B.
            let tiles = (n + columnsPerTile - 1) / columnsPerTile
            let ranges = threads == 1 ? 1 : min(tiles, 4 * threads)
            a.values.withUnsafeBufferPointer { packed in
                Parallel.forEach(ranges) { item in
                    let itemTiles = Parallel.evenPart(item, of: tiles, parts: ranges)
                    let start = itemTiles.lowerBound * columnsPerTile, end = min(n, itemTiles.upperBound * columnsPerTile)
                    multiplyUnpacked(packed.baseAddress!, rows: m, depth: k, sliceDepth: sliceDepth, panels: 0..<panels, b,
                                     columns: start..<end, n: n, bias: bias, residual: residual, activation: activation, into: c)
                }
            }
            return
        }
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: k) { rows in
            for row in 0..<k { rows[row] = b + row * n }
            multiply(a, rows: RowSource(rows: UnsafePointer(rows.baseAddress!)), columns: n, bias: bias, residual: residual,
                     activation: activation, into: c)
        }
    }

    /// K in equal slices of at most 256 (one packed 16-column tile of a slice fits L1).
    static func depthPerSlice(_ k: Int) -> Int {
        let slices = max(1, (k + 255) / 256)
        return max(1, (k + slices - 1) / slices)
    }

    /// `multiply` with B given row by row (`RowSource`), always packed (a part-by-part B has no
    /// one row stride to read in place).
    public static func multiply(_ a: PackedA, rows b: RowSource, columns n: Int, bias: UnsafePointer<Float>?,
                                residual: UnsafePointer<Float>?, activation: FusedActivation, into c: UnsafeMutablePointer<Float>) {
        let m = a.rows, k = a.depth
        guard m > 0, n > 0 else { return }
        let panels = (m + rowsPerPanel - 1) / rowsPerPanel
        let sliceDepth = depthPerSlice(k)
        let blockColumns = max(columnsPerTile, min((n + columnsPerTile - 1) / columnsPerTile * columnsPerTile,
                                                   (49152 / sliceDepth) / columnsPerTile * columnsPerTile))
        let blocks = (n + blockColumns - 1) / blockColumns
        let threads = Parallel.threads
        // About four items per thread for dynamic scheduling (one when single-threaded).
        let panelSplits = threads == 1 || blocks >= 4 * threads ? 1 : min(panels, (4 * threads + blocks - 1) / blocks)
        if panelSplits > 1 {
            multiplySharingPackedB(a, b, columns: n, sliceDepth: sliceDepth, blockColumns: blockColumns, panelSplits: panelSplits,
                                   bias: bias, residual: residual, activation: activation, into: c)
            return
        }
        // One item per column block, every panel in it; each item packs its own block.
        a.values.withUnsafeBufferPointer { packed in
            Parallel.forEach(blocks) { block in
                let blockStart = block * blockColumns, blockEnd = min(n, blockStart + blockColumns)
                let tiles = (blockEnd - blockStart + columnsPerTile - 1) / columnsPerTile
                Scratch.withFloats(tiles * sliceDepth * columnsPerTile) { packedB in
                var k0 = 0
                while k0 < k {
                    let depth = min(sliceDepth, k - k0)
                    packSlice(b, rows: k0..<(k0 + depth), columns: blockStart..<blockEnd, into: packedB)
                    multiplyPacked(packed.baseAddress! + k0 * rowsPerPanel, rows: m, depth: depth, panelStride: k * rowsPerPanel,
                                   panels: 0..<panels, packedB: packedB, columns: blockStart..<blockEnd, ldc: n,
                                   accumulate: k0 > 0, finish: k0 + depth == k,
                                   bias: bias, residual: residual, activation: activation, into: c)
                    k0 += depth
                }
                }
            }
        }
    }

    /// Rows `rows` of B's `columns` as [tile][row][16], a partial last tile zero-padded, each row
    /// through its scale, shift and activation when B has them.
    @inline(__always)
    static func packSlice(_ b: RowSource, rows: Range<Int>, columns: Range<Int>, into packed: UnsafeMutablePointer<Float>) {
        let tiles = (columns.count + columnsPerTile - 1) / columnsPerTile
        let mapped = b.scale != nil || b.activation != .none
        for t in 0..<tiles {
            let column = columns.lowerBound + t * columnsPerTile, width = min(columnsPerTile, columns.upperBound - column)
            let target = packed + t * rows.count * columnsPerTile
            for p in 0..<rows.count {
                let k = rows.lowerBound + p, source = b.rows[k] + column, row = target + p * columnsPerTile
                if width == columnsPerTile {
                    copySixteen(from: source, to: row)
                } else {
                    copySixteen(from: source, count: width, to: row)
                }
                if mapped {
                    let scale = SIMD8<Float>(repeating: b.scale?[k] ?? 1), shift = SIMD8<Float>(repeating: b.shift?[k] ?? 0)
                    let raw = UnsafeMutableRawPointer(row)
                    for half in 0..<2 {
                        let v = raw.loadUnaligned(fromByteOffset: half * 32, as: SIMD8<Float>.self)
                        raw.storeBytes(of: b.activation.apply(mk_multiply_add(v, scale, shift)), toByteOffset: half * 32, as: SIMD8<Float>.self)
                    }
                    // Padding columns stay zero: a partial tile's extra lanes are never stored, but zero keeps them finite.
                    if width < columnsPerTile { for j in width..<columnsPerTile { row[j] = 0 } }
                }
            }
        }
    }

    /// `packSlice` of a dense B (row stride n).
    static func packSlice(_ b: UnsafePointer<Float>, n: Int, rows: Range<Int>, columns: Range<Int>, into packed: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: rows.upperBound) { table in
            for row in rows { table[row] = b + row * n }
            packSlice(RowSource(rows: UnsafePointer(table.baseAddress!)), rows: rows, columns: columns, into: packed)
        }
    }

    /// `multiply` when panel ranges of a block are split across threads: B is packed once (every
    /// block's slices, the packing itself split by block and slice), then shared by the threads,
    /// instead of each work item packing the same block again.
    static func multiplySharingPackedB(_ a: PackedA, _ b: RowSource, columns n: Int, sliceDepth: Int, blockColumns: Int,
                                       panelSplits: Int, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                                       activation: FusedActivation, into c: UnsafeMutablePointer<Float>) {
        let m = a.rows, k = a.depth
        let panels = (m + rowsPerPanel - 1) / rowsPerPanel
        let blocks = (n + blockColumns - 1) / blockColumns, slices = (k + sliceDepth - 1) / sliceDepth
        // Block `block`'s slice from row k0 starts at block * blockColumns * k + k0 * (its tiles) * 16.
        func sliceStart(_ block: Int, _ k0: Int) -> Int {
            let width = min(n, (block + 1) * blockColumns) - block * blockColumns
            return block * blockColumns * k + k0 * ((width + columnsPerTile - 1) / columnsPerTile * columnsPerTile)
        }
        Scratch.withFloats(blocks * blockColumns * k) { packedB in
            Parallel.forEach(blocks * slices) { item in
                let block = item / slices, k0 = (item % slices) * sliceDepth
                packSlice(b, rows: k0..<min(k, k0 + sliceDepth), columns: (block * blockColumns)..<min(n, (block + 1) * blockColumns),
                          into: packedB + sliceStart(block, k0))
            }
            a.values.withUnsafeBufferPointer { packed in
                Parallel.forEach(blocks * panelSplits) { item in
                    let block = item / panelSplits, split = item % panelSplits
                    let panelRange = Parallel.evenPart(split, of: panels, parts: panelSplits)
                    let blockStart = block * blockColumns, blockEnd = min(n, blockStart + blockColumns)
                    var k0 = 0
                    while k0 < k {
                        let depth = min(sliceDepth, k - k0)
                        multiplyPacked(packed.baseAddress! + k0 * rowsPerPanel, rows: m, depth: depth, panelStride: k * rowsPerPanel,
                                       panels: panelRange, packedB: packedB + sliceStart(block, k0), columns: blockStart..<blockEnd, ldc: n,
                                       accumulate: k0 > 0, finish: k0 + depth == k,
                                       bias: bias, residual: residual, activation: activation, into: c)
                        k0 += depth
                    }
                }
            }
        }
    }

    /// Up to this many panels (M <= 120) B is read in place: each of its tiles serves too few
    /// panels to repay packing it, a copy that costs as much as the products themselves here.
    /// Short sums (K <= 64) over more than four panels keep the packed path, whose row-wise sweep
    /// keeps the output's write streams few.
    static let directPanels = 20

    /// `multiply`'s loop for few panels: full 16-column tiles read B where it is (row stride n),
    /// only a partial last tile is copied, zero-padded, so no read passes B's end.
    @inline(__always)
    static func multiplyUnpacked(_ a: UnsafePointer<Float>, rows m: Int, depth k: Int, sliceDepth: Int, panels: Range<Int>,
                                 _ b: UnsafePointer<Float>, columns: Range<Int>, n: Int, bias: UnsafePointer<Float>?,
                                 residual: UnsafePointer<Float>?, activation: FusedActivation, into c: UnsafeMutablePointer<Float>) {
        Scratch.withFloats(sliceDepth * columnsPerTile) { edge in
            var k0 = 0
            while k0 < k {
                let depth = min(sliceDepth, k - k0)
                var column = columns.lowerBound
                while column < columns.upperBound {
                    let width = min(columnsPerTile, columns.upperBound - column)
                    var source = b + k0 * n + column, ldb = n
                    // (`tile` reads one column a float at a time, in place.)
                    if width > 1 && width < columnsPerTile {
                        for p in 0..<depth {
                            copySixteen(from: source + p * n, count: width, to: edge + p * columnsPerTile)
                        }
                        source = UnsafePointer(edge)
                        ldb = columnsPerTile
                    }
                    for panel in panels {
                        let firstRow = panel * rowsPerPanel
                        tile(a + panel * k * rowsPerPanel + k0 * rowsPerPanel, source, ldb: ldb, depth: depth, firstRow: firstRow,
                             rowCount: min(rowsPerPanel, m - firstRow), column: column, width: width, n: n,
                             accumulate: k0 > 0, finish: k0 + depth == k, bias: bias, residual: residual, activation: activation, c: c)
                    }
                    column += columnsPerTile
                }
                k0 += depth
            }
        }
    }

    /// The first `count` (< 16) floats of `source` into sixteen at `target`, zero-padded, reading
    /// nothing past them.
    @inline(__always)
    static func copySixteen(from source: UnsafePointer<Float>, count: Int, to target: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(target)
        out.storeBytes(of: mk_load_first(source, min(count, 8)), as: SIMD8<Float>.self)
        out.storeBytes(of: count > 8 ? mk_load_first(source + 8, count - 8) : SIMD8(), toByteOffset: 32, as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func copySixteen(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>) {
        let raw = UnsafeRawPointer(source), out = UnsafeMutableRawPointer(target)
        out.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        out.storeBytes(of: raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), toByteOffset: 32, as: SIMD8<Float>.self)
    }

    /// The compute loop over B already packed as [tile][depth][16] for `columns` of C (row stride
    /// `ldc`), on the calling thread. `a` points at the first panel's slice; panels are
    /// `panelStride` apart. `accumulate` adds C's current values; `finish` runs the epilogue.
    @inline(__always)
    public static func multiplyPacked(_ a: UnsafePointer<Float>, rows m: Int, depth k: Int, panelStride: Int, panels: Range<Int>,
                                      packedB: UnsafePointer<Float>, columns: Range<Int>, ldc: Int,
                                      accumulate: Bool = false, finish: Bool = true,
                                      bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                                      activation: FusedActivation, into c: UnsafeMutablePointer<Float>) {
        let tiles = (columns.count + columnsPerTile - 1) / columnsPerTile
        if k <= 64 {
            // Short sums: the output stores dominate, so each panel sweeps its six rows of C
            // left to right (six write streams, not one per row of the block); B's short tiles
            // stay in cache across panels anyway.
            for panel in panels {
                let firstRow = panel * rowsPerPanel
                for t in 0..<tiles {
                    let column = columns.lowerBound + t * columnsPerTile
                    tile(a + panel * panelStride, packedB + t * k * columnsPerTile, ldb: columnsPerTile, depth: k, firstRow: firstRow,
                         rowCount: min(rowsPerPanel, m - firstRow), column: column, width: min(columnsPerTile, columns.upperBound - column),
                         n: ldc, accumulate: accumulate, finish: finish, bias: bias, residual: residual, activation: activation, c: c)
                }
            }
            return
        }
        // Panels in groups whose slices fill about half of L2; within a group each B tile stays
        // in L1 while the group's panels pass over it.
        let group = max(1, 32768 / max(1, k * rowsPerPanel))
        var groupStart = panels.lowerBound
        while groupStart < panels.upperBound {
            let groupEnd = min(panels.upperBound, groupStart + group)
            for t in 0..<tiles {
                let column = columns.lowerBound + t * columnsPerTile
                let width = min(columnsPerTile, columns.upperBound - column)
                for panel in groupStart..<groupEnd {
                    let firstRow = panel * rowsPerPanel
                    tile(a + panel * panelStride, packedB + t * k * columnsPerTile, ldb: columnsPerTile, depth: k, firstRow: firstRow,
                         rowCount: min(rowsPerPanel, m - firstRow), column: column, width: width, n: ldc,
                         accumulate: accumulate, finish: finish, bias: bias, residual: residual, activation: activation, c: c)
                }
            }
            groupStart = groupEnd
        }
    }

    /// Runs `body` with A's packed values (for callers that pack B themselves).
    public static func withPanels<R>(_ a: PackedA, _ body: (UnsafePointer<Float>) -> R) -> R {
        a.values.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// One 6x16 tile of C at (firstRow, column); stores `rowCount` rows and `width` columns.
    /// B's row k starts `ldb` floats after row k - 1.
    @inline(__always)
    static func tile(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, ldb: Int, depth: Int,
                     firstRow: Int, rowCount: Int, column: Int, width: Int, n: Int, accumulate: Bool, finish: Bool,
                     bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                     c: UnsafeMutablePointer<Float>) {
        var sums = TileSums()
        var pa = a, pb = UnsafeRawPointer(b)
        let step = ldb * MemoryLayout<Float>.stride
        if width == 1 {
            // One column (7x7 planes have 49 = 3 x 16 + 1): the panel's six rows as one vector,
            // four independent sums over k instead of six broadcasts per k.
            var s0 = SIMD8<Float>(), s1 = s0, s2 = s0, s3 = s0
            var k = 0
            func panelColumn(_ i: Int) -> SIMD8<Float> { UnsafeRawPointer(pa + i * rowsPerPanel).loadUnaligned(as: SIMD8<Float>.self) }
            func bValue(_ i: Int) -> SIMD8<Float> { SIMD8(repeating: pb.load(fromByteOffset: i * step, as: Float.self)) }
            while k + 4 <= depth {
                s0 = mk_multiply_add(panelColumn(0), bValue(0), s0)
                s1 = mk_multiply_add(panelColumn(1), bValue(1), s1)
                s2 = mk_multiply_add(panelColumn(2), bValue(2), s2)
                s3 = mk_multiply_add(panelColumn(3), bValue(3), s3)
                pa += 4 * rowsPerPanel
                pb += 4 * step
                k += 4
            }
            while k < depth {
                s0 = mk_multiply_add(panelColumn(0), bValue(0), s0)
                pa += rowsPerPanel
                pb += step
                k += 1
            }
            let sum = (s0 + s1) + (s2 + s3)
            for r in 0..<rowCount {
                storeRow(firstRow + r, SIMD8(repeating: sum[r]), SIMD8(), column: column, width: 1, n: n, accumulate: accumulate,
                         finish: finish, bias: bias, residual: residual, activation: activation.inRegisters, c: c)
                if finish && activation.isCurve { activation.applyCurve(c + (firstRow + r) * n + column, count: 1) }
            }
            return
        }
        if width <= 8 {
            // A last tile of at most eight columns (7x7 planes have 49): half the work.
            for _ in 0..<depth {
                sums.addHalf(pa, pb.loadUnaligned(as: SIMD8<Float>.self))
                pa += rowsPerPanel
                pb += step
            }
        } else {
            for _ in 0..<depth {
                sums.add(pa, pb.loadUnaligned(as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                pa += rowsPerPanel
                pb += step
            }
        }
        sums.store(firstRow: firstRow, rowCount: rowCount, column: column, width: width, n: n, accumulate: accumulate,
                   finish: finish, bias: bias, residual: residual, activation: activation, c: c)
    }

    /// `tile` with B's rows found through a table (an indirect GEMM): row k starts `rowOffsets[k]`
    /// bytes after `b`, so convolutions read their input in place, without an im2col copy.
    @inline(__always)
    static func indirectTile(_ a: UnsafePointer<Float>, _ b: UnsafeRawPointer, rowOffsets: UnsafePointer<Int>, depth: Int,
                             firstRow: Int, rowCount: Int, column: Int, width: Int, n: Int,
                             bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                             c: UnsafeMutablePointer<Float>) {
        var sums = TileSums()
        var pa = a
        if width <= 8 {
            for k in 0..<depth {
                sums.addHalf(pa, b.loadUnaligned(fromByteOffset: rowOffsets[k], as: SIMD8<Float>.self))
                pa += rowsPerPanel
            }
        } else {
            for k in 0..<depth {
                let row = b + rowOffsets[k]
                sums.add(pa, row.loadUnaligned(as: SIMD8<Float>.self), row.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                pa += rowsPerPanel
            }
        }
        sums.store(firstRow: firstRow, rowCount: rowCount, column: column, width: width, n: n, accumulate: false,
                   finish: true, bias: bias, residual: residual, activation: activation, c: c)
    }

    /// The twelve 8-lane accumulators of a 6x16 tile (row r: c[r]0 for columns 0-7, c[r]1 for 8-15).
    struct TileSums {
        init() {}

        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()

        /// One step of k: the six A values of the panel times sixteen B values.
        @inline(__always)
        mutating func add(_ pa: UnsafePointer<Float>, _ b0: SIMD8<Float>, _ b1: SIMD8<Float>) {
            var s = SIMD8<Float>(repeating: pa[0]); c00 = mk_multiply_add(s, b0, c00); c01 = mk_multiply_add(s, b1, c01)
            s = SIMD8<Float>(repeating: pa[1]); c10 = mk_multiply_add(s, b0, c10); c11 = mk_multiply_add(s, b1, c11)
            s = SIMD8<Float>(repeating: pa[2]); c20 = mk_multiply_add(s, b0, c20); c21 = mk_multiply_add(s, b1, c21)
            s = SIMD8<Float>(repeating: pa[3]); c30 = mk_multiply_add(s, b0, c30); c31 = mk_multiply_add(s, b1, c31)
            s = SIMD8<Float>(repeating: pa[4]); c40 = mk_multiply_add(s, b0, c40); c41 = mk_multiply_add(s, b1, c41)
            s = SIMD8<Float>(repeating: pa[5]); c50 = mk_multiply_add(s, b0, c50); c51 = mk_multiply_add(s, b1, c51)
        }

        /// One step of k with the six A values given (A read in place, row by row).
        @inline(__always)
        mutating func add(_ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float, _ a4: Float, _ a5: Float,
                          _ b0: SIMD8<Float>, _ b1: SIMD8<Float>) {
            var s = SIMD8<Float>(repeating: a0); c00 = mk_multiply_add(s, b0, c00); c01 = mk_multiply_add(s, b1, c01)
            s = SIMD8<Float>(repeating: a1); c10 = mk_multiply_add(s, b0, c10); c11 = mk_multiply_add(s, b1, c11)
            s = SIMD8<Float>(repeating: a2); c20 = mk_multiply_add(s, b0, c20); c21 = mk_multiply_add(s, b1, c21)
            s = SIMD8<Float>(repeating: a3); c30 = mk_multiply_add(s, b0, c30); c31 = mk_multiply_add(s, b1, c31)
            s = SIMD8<Float>(repeating: a4); c40 = mk_multiply_add(s, b0, c40); c41 = mk_multiply_add(s, b1, c41)
            s = SIMD8<Float>(repeating: a5); c50 = mk_multiply_add(s, b0, c50); c51 = mk_multiply_add(s, b1, c51)
        }

        /// The same sums in every row: a tile's start from its sixteen columns' bias.
        @inline(__always)
        init(rows low: SIMD8<Float>, _ high: SIMD8<Float>) {
            c00 = low; c10 = low; c20 = low; c30 = low; c40 = low; c50 = low
            c01 = high; c11 = high; c21 = high; c31 = high; c41 = high; c51 = high
        }

        /// Adds the first `rows` of six rows of eight floats at `low` (columns 0-7) and at `high`
        /// (columns 8-15, only if `wide`), rows `stride` bytes apart.
        @inline(__always)
        mutating func add(rows: Int, low: UnsafeRawPointer, high: UnsafeRawPointer, stride: Int, wide: Bool) {
            func at(_ p: UnsafeRawPointer, _ r: Int) -> SIMD8<Float> { p.loadUnaligned(fromByteOffset: r * stride, as: SIMD8<Float>.self) }
            c00 += at(low, 0); if wide { c01 += at(high, 0) }
            if rows > 1 { c10 += at(low, 1); if wide { c11 += at(high, 1) } }
            if rows > 2 { c20 += at(low, 2); if wide { c21 += at(high, 2) } }
            if rows > 3 { c30 += at(low, 3); if wide { c31 += at(high, 3) } }
            if rows > 4 { c40 += at(low, 4); if wide { c41 += at(high, 4) } }
            if rows > 5 { c50 += at(low, 5); if wide { c51 += at(high, 5) } }
        }

        /// Stores the first `rows` rows as `add(rows:...)` reads them.
        @inline(__always)
        func store(rows: Int, low: UnsafeMutableRawPointer, high: UnsafeMutableRawPointer, stride: Int, wide: Bool) {
            func put(_ p: UnsafeMutableRawPointer, _ r: Int, _ v: SIMD8<Float>) { p.storeBytes(of: v, toByteOffset: r * stride, as: SIMD8<Float>.self) }
            put(low, 0, c00); if wide { put(high, 0, c01) }
            if rows > 1 { put(low, 1, c10); if wide { put(high, 1, c11) } }
            if rows > 2 { put(low, 2, c20); if wide { put(high, 2, c21) } }
            if rows > 3 { put(low, 3, c30); if wide { put(high, 3, c31) } }
            if rows > 4 { put(low, 4, c40); if wide { put(high, 4, c41) } }
            if rows > 5 { put(low, 5, c50); if wide { put(high, 5, c51) } }
        }

        /// Every sum clamped to lower ... upper (ReLU's and Clip's epilogue, in registers).
        @inline(__always)
        mutating func clamp(_ lower: SIMD8<Float>, _ upper: SIMD8<Float>) {
            c00 = mk_clamp(c00, lower, upper); c01 = mk_clamp(c01, lower, upper)
            c10 = mk_clamp(c10, lower, upper); c11 = mk_clamp(c11, lower, upper)
            c20 = mk_clamp(c20, lower, upper); c21 = mk_clamp(c21, lower, upper)
            c30 = mk_clamp(c30, lower, upper); c31 = mk_clamp(c31, lower, upper)
            c40 = mk_clamp(c40, lower, upper); c41 = mk_clamp(c41, lower, upper)
            c50 = mk_clamp(c50, lower, upper); c51 = mk_clamp(c51, lower, upper)
        }

        /// One step of k on the first eight columns only.
        @inline(__always)
        mutating func addHalf(_ pa: UnsafePointer<Float>, _ b0: SIMD8<Float>) {
            c00 = mk_multiply_add(SIMD8<Float>(repeating: pa[0]), b0, c00)
            c10 = mk_multiply_add(SIMD8<Float>(repeating: pa[1]), b0, c10)
            c20 = mk_multiply_add(SIMD8<Float>(repeating: pa[2]), b0, c20)
            c30 = mk_multiply_add(SIMD8<Float>(repeating: pa[3]), b0, c30)
            c40 = mk_multiply_add(SIMD8<Float>(repeating: pa[4]), b0, c40)
            c50 = mk_multiply_add(SIMD8<Float>(repeating: pa[5]), b0, c50)
        }

        /// One step of k for two panels by eight columns: the rows of `low` (A values eight floats
        /// apart) into the first eight columns' sums, those of `high` into the second's.
        @inline(__always)
        mutating func addPair(low a: UnsafePointer<Float>, high h: UnsafePointer<Float>, _ b0: SIMD8<Float>) {
            c00 = mk_multiply_add(SIMD8<Float>(repeating: a[0]), b0, c00)
            c01 = mk_multiply_add(SIMD8<Float>(repeating: h[0]), b0, c01)
            c10 = mk_multiply_add(SIMD8<Float>(repeating: a[8]), b0, c10)
            c11 = mk_multiply_add(SIMD8<Float>(repeating: h[8]), b0, c11)
            c20 = mk_multiply_add(SIMD8<Float>(repeating: a[16]), b0, c20)
            c21 = mk_multiply_add(SIMD8<Float>(repeating: h[16]), b0, c21)
            c30 = mk_multiply_add(SIMD8<Float>(repeating: a[24]), b0, c30)
            c31 = mk_multiply_add(SIMD8<Float>(repeating: h[24]), b0, c31)
            c40 = mk_multiply_add(SIMD8<Float>(repeating: a[32]), b0, c40)
            c41 = mk_multiply_add(SIMD8<Float>(repeating: h[32]), b0, c41)
            c50 = mk_multiply_add(SIMD8<Float>(repeating: a[40]), b0, c50)
            c51 = mk_multiply_add(SIMD8<Float>(repeating: h[40]), b0, c51)
        }

        /// One step of k on the first eight columns, with the six A values given.
        @inline(__always)
        mutating func addHalf(_ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float, _ a4: Float, _ a5: Float, _ b0: SIMD8<Float>) {
            c00 = mk_multiply_add(SIMD8<Float>(repeating: a0), b0, c00)
            c10 = mk_multiply_add(SIMD8<Float>(repeating: a1), b0, c10)
            c20 = mk_multiply_add(SIMD8<Float>(repeating: a2), b0, c20)
            c30 = mk_multiply_add(SIMD8<Float>(repeating: a3), b0, c30)
            c40 = mk_multiply_add(SIMD8<Float>(repeating: a4), b0, c40)
            c50 = mk_multiply_add(SIMD8<Float>(repeating: a5), b0, c50)
        }

        @inline(__always)
        func store(firstRow: Int, rowCount: Int, column: Int, width: Int, n: Int, accumulate: Bool, finish: Bool,
                   bias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>?,
                   activation: FusedActivation, c: UnsafeMutablePointer<Float>) {
            // Row by row, spelled out: a local `emit` function stayed a call (six per tile, 5 % of a
            // 192-deep MatMul) even when marked to inline.
            let curve = activation.inRegisters
            PanelGemm.storeRow(firstRow, c00, c01, column: column, width: width, n: n, accumulate: accumulate, finish: finish,
                               bias: bias, columnBias: columnBias, residual: residual, activation: curve, c: c)
            if rowCount > 1 {
                PanelGemm.storeRow(firstRow + 1, c10, c11, column: column, width: width, n: n, accumulate: accumulate, finish: finish,
                                   bias: bias, columnBias: columnBias, residual: residual, activation: curve, c: c)
            }
            if rowCount > 2 {
                PanelGemm.storeRow(firstRow + 2, c20, c21, column: column, width: width, n: n, accumulate: accumulate, finish: finish,
                                   bias: bias, columnBias: columnBias, residual: residual, activation: curve, c: c)
            }
            if rowCount > 3 {
                PanelGemm.storeRow(firstRow + 3, c30, c31, column: column, width: width, n: n, accumulate: accumulate, finish: finish,
                                   bias: bias, columnBias: columnBias, residual: residual, activation: curve, c: c)
            }
            if rowCount > 4 {
                PanelGemm.storeRow(firstRow + 4, c40, c41, column: column, width: width, n: n, accumulate: accumulate, finish: finish,
                                   bias: bias, columnBias: columnBias, residual: residual, activation: curve, c: c)
            }
            if rowCount > 5 {
                PanelGemm.storeRow(firstRow + 5, c50, c51, column: column, width: width, n: n, accumulate: accumulate, finish: finish,
                                   bias: bias, columnBias: columnBias, residual: residual, activation: curve, c: c)
            }
            if finish && activation.isCurve {
                activation.applyCurve(c + firstRow * n + column, rows: rowCount, columns: width, rowStride: n)
            }
        }
    }

    /// One row of a tile into C: adds C's current values when accumulating; on the last slice
    /// adds the bias (per row), the column bias (per column) and the residual and applies the
    /// activation.
    @inline(__always)
    static func storeRow(_ row: Int, _ low: SIMD8<Float>, _ high: SIMD8<Float>, column: Int, width: Int, n: Int,
                         accumulate: Bool, finish: Bool, bias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>? = nil,
                         residual: UnsafePointer<Float>?, activation: FusedActivation, c: UnsafeMutablePointer<Float>) {
        var lo = low, hi = high
        let out = c + row * n + column
        if width == columnsPerTile {
            let raw = UnsafeMutableRawPointer(out)
            if accumulate {
                lo += raw.loadUnaligned(as: SIMD8<Float>.self)
                hi += raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            }
            if !finish {
                raw.storeBytes(of: lo, as: SIMD8<Float>.self)
                raw.storeBytes(of: hi, toByteOffset: 32, as: SIMD8<Float>.self)
                return
            }
            if let bias { let v = SIMD8<Float>(repeating: bias[row]); lo += v; hi += v }
            if let columnBias {
                let source = UnsafeRawPointer(columnBias + column)
                lo += source.loadUnaligned(as: SIMD8<Float>.self)
                hi += source.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            }
            if let residual {
                let source = UnsafeRawPointer(residual + row * n + column)
                lo += source.loadUnaligned(as: SIMD8<Float>.self)
                hi += source.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            }
            raw.storeBytes(of: activation.apply(lo), as: SIMD8<Float>.self)
            raw.storeBytes(of: activation.apply(hi), toByteOffset: 32, as: SIMD8<Float>.self)
        } else {
            storePartialRow(row, lo, hi, column: column, width: width, n: n, accumulate: accumulate, finish: finish, bias: bias,
                            columnBias: columnBias, residual: residual, activation: activation, c: c)
        }
    }

    /// `storeRow` for a partial tile: the same vector epilogue, reading and writing only the first
    /// `width` columns (masked loads and stores, not a scalar loop per element). Out of line: inlined,
    /// it made each row's store too large for the compiler to inline all six of a tile's, and the
    /// rows it left as calls saved the tile's sums to the stack around them (a MatMul of depth 192,
    /// whose tiles are all whole, spent 2 % of its time there).
    @inline(never)
    static func storePartialRow(_ row: Int, _ low: SIMD8<Float>, _ high: SIMD8<Float>, column: Int, width: Int, n: Int,
                                accumulate: Bool, finish: Bool, bias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?,
                                residual: UnsafePointer<Float>?, activation: FusedActivation, c: UnsafeMutablePointer<Float>) {
        var lo = low, hi = high
        let out = c + row * n + column
        let lowCount = min(width, 8), highCount = width - lowCount
        func load(_ p: UnsafePointer<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
            (mk_load_first(p, lowCount), highCount > 0 ? mk_load_first(p + 8, highCount) : SIMD8())
        }
        if accumulate { let (l, h) = load(out); lo += l; hi += h }
        if finish {
            if let bias { let v = SIMD8<Float>(repeating: bias[row]); lo += v; hi += v }
            if let columnBias { let (l, h) = load(columnBias + column); lo += l; hi += h }
            if let residual { let (l, h) = load(residual + row * n + column); lo += l; hi += h }
            lo = activation.apply(lo)
            hi = activation.apply(hi)
        }
        mk_store_first(out, lo, lowCount)
        if highCount > 0 { mk_store_first(out + 8, hi, highCount) }
    }
}
