import CManakoSIMD

/// C[M, N] = A[M, K] * B[K, N] with B constant (MatMul weights, the transformers' projections):
/// B is packed once, at load, into PanelGemm's [tile][k][16] layout in slices of at most 768 rows
/// of k (256 for the convolutions' filter banks); A (activations) is read in place, six rows at a
/// time, into PanelGemm's 6x16 register tiles; work splits across threads by ranges of rows (and
/// halves of the columns).
/// Layout: A row-major (row stride K), B row-major [K, N] before packing, C row-major [M, N].
/// Twin: `GemmKernel.referenceGemm`, tested on awkward sizes.
public enum PackedBGemm {
    /// B packed as [slice][tile][slice depth][16], zero-padded past column N.
    public struct PackedB: Sendable {
        public let depth: Int
        public let columns: Int
        let sliceDepth: Int
        let values: AlignedFloats

        /// `other`'s packing over new values (the same layout, say with its rows rescaled).
        init(_ other: PackedB, values: AlignedFloats) {
            depth = other.depth
            columns = other.columns
            sliceDepth = other.sliceDepth
            self.values = values
        }

        /// Writes this packing with row k of B multiplied by `factors[k]` into `target`
        /// (`values.count` floats): each packed row of sixteen is one row of B.
        func scaledRows(by factors: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>) {
            let tiles = (columns + PanelGemm.columnsPerTile - 1) / PanelGemm.columnsPerTile, width = PanelGemm.columnsPerTile
            values.withUnsafeBufferPointer { source in
                var k0 = 0
                while k0 < depth {
                    let d = min(sliceDepth, depth - k0)
                    for t in 0..<tiles {
                        let offset = k0 * tiles * width + t * d * width
                        for r in 0..<d {
                            let factor = SIMD16<Float>(repeating: factors[k0 + r]), at = offset + r * width
                            let row = UnsafeRawPointer(source.baseAddress! + at).loadUnaligned(as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(target + at).storeBytes(of: row * factor, as: SIMD16<Float>.self)
                        }
                    }
                    k0 += d
                }
            }
        }

        /// `sliceMultiple` rounds the slice depth up to a multiple (the blocked 1x1 kernel needs
        /// its slices to hold whole blocks of eight channels). Rows of A read in place (MatMul)
        /// take slices of up to `maxSliceDepth` rows: a tile's 48 KB of B at K = 768 streams from
        /// L2 as fast as 16 KB from L1, and each slice more costs every 6x16 tile a load and a
        /// store of its sums (DeiT-Tiny's fc2, K = 768, 5 % faster in one slice than in three).
        public init(_ b: UnsafePointer<Float>, depth k: Int, columns n: Int, sliceMultiple: Int = 1, maxSliceDepth: Int = 768) {
            depth = k
            columns = n
            sliceDepth = PackedB.sliceDepth(depth: k, multiple: sliceMultiple, atMost: maxSliceDepth)
            let tiles = (n + PanelGemm.columnsPerTile - 1) / PanelGemm.columnsPerTile
            let count = tiles * PanelGemm.columnsPerTile * k
            let sliceDepth = self.sliceDepth
            values = AlignedFloats(count: count, sharingHugePages: true) { out in
                var k0 = 0
                while k0 < k {
                    let d = min(sliceDepth, k - k0)
                    PanelGemm.packSlice(b, n: n, rows: k0..<(k0 + d), columns: 0..<n, into: out.baseAddress! + k0 * tiles * PanelGemm.columnsPerTile)
                    k0 += d
                }
            }
        }

        /// B read column by column from a filter bank: B[k][j] = source[j * columnStride +
        /// rowOffsets[k]] (offset k when `rowOffsets` is nil). Packs [N][K]-ordered weights
        /// (convolution filters, Winograd's transformed ones) with no transposed copy: each tile
        /// reads its sixteen filters' rows side by side, in order. Slices of at most 256 rows unless
        /// `maxSliceDepth` says otherwise.
        public init(columnsOf source: UnsafePointer<Float>, columnStride: Int, rowOffsets: UnsafePointer<Int>?, depth k: Int,
                    columns n: Int, sliceMultiple: Int = 1, maxSliceDepth: Int = 256) {
            depth = k
            columns = n
            let sliceDepth = PackedB.sliceDepth(depth: k, multiple: sliceMultiple, atMost: maxSliceDepth)
            let width = PanelGemm.columnsPerTile
            self.sliceDepth = sliceDepth
            let tiles = (n + width - 1) / width
            values = AlignedFloats(count: tiles * width * k, sharingHugePages: true) { out in
                var k0 = 0
                while k0 < k {
                    let d = min(sliceDepth, k - k0)
                    for t in 0..<tiles {
                        let first = t * width, filters = min(width, n - first)
                        let target = out.baseAddress! + k0 * tiles * width + t * d * width
                        guard let rowOffsets else {
                            PackedB.transposeTile(source + first * columnStride + k0, columnStride: columnStride, filters: filters,
                                                  depth: d, into: target)
                            continue
                        }
                        for r in 0..<d {
                            let column = source + first * columnStride + rowOffsets[k0 + r], row = target + r * width
                            for j in 0..<filters { row[j] = column[j * columnStride] }
                            for j in filters..<width { row[j] = 0 }
                        }
                    }
                    k0 += d
                }
            }
        }

        /// One 16-column tile's `depth` rows from `filters` columns of B stored as rows (column j's
        /// rows contiguous from `columns + j * columnStride`), zero past the last column: 8x8
        /// register transposes, so each column is read in order (a gather of sixteen columns per
        /// row made the packing of ResNet-50's 1x1 weights take 2.7 ns a float).
        static func transposeTile(_ columns: UnsafePointer<Float>, columnStride: Int, filters: Int, depth: Int,
                                  into target: UnsafeMutablePointer<Float>) {
            let width = PanelGemm.columnsPerTile
            var r = 0
            while r + 8 <= depth {
                var j = 0
                while j + 8 <= filters {
                    mk_transpose8x8(columns + j * columnStride + r, columnStride, target + r * width + j, width)
                    j += 8
                }
                for j in j..<filters { for row in r..<(r + 8) { target[row * width + j] = columns[j * columnStride + row] } }
                r += 8
            }
            for row in r..<depth { for j in 0..<filters { target[row * width + j] = columns[j * columnStride + row] } }
            if filters < width { for row in 0..<depth { for j in filters..<width { target[row * width + j] = 0 } } }
        }

        /// Rows of k per slice: k cut into equal slices of at most `atMost` rows (256: a 16-column
        /// tile's 16 KB stays in L1 beside the panels), rounded up to `multiple`.
        static func sliceDepth(depth k: Int, multiple: Int, atMost: Int = 256) -> Int {
            let slices = max(1, (k + atMost - 1) / atMost)
            return max(1, ((k + slices - 1) / slices + multiple - 1) / multiple * multiple)
        }
    }

    /// C = activation(A * B + `columnBias` on every row + `residual`) for `m` rows of A (row stride
    /// `depth`), into c (row stride `columns`; `residual` laid out as C, and not C itself). With
    /// `prepareRows`, each work item first has it write its range's rows of A (`count` rows from row
    /// `first`, `depth` floats each) into scratch, and reads them there (a fused LayerNormalization).
    public static func multiply(_ a: UnsafePointer<Float>, rows m: Int, _ b: PackedB, columnBias: UnsafePointer<Float>? = nil,
                                residual: UnsafePointer<Float>? = nil,
                                activation: FusedActivation = .none, into c: UnsafeMutablePointer<Float>,
                                prepareRows: ((_ first: Int, _ count: Int, _ target: UnsafeMutablePointer<Float>) -> Void)? = nil) {
        let k = b.depth, n = b.columns, columnsPerTile = PanelGemm.columnsPerTile
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for row in 0..<m {
                for j in 0..<n { c[row * n + j] = (columnBias?[j] ?? 0) + (residual?[row * n + j] ?? 0) }
            }
            activation.apply(c, count: m * n)
            return
        }
        let panels = (m + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        let tiles = (n + columnsPerTile - 1) / columnsPerTile
        b.values.withUnsafeBufferPointer { packedB in
            // Even ranges of at most eight panels (48 rows), and the columns in halves when there
            // are few ranges, so every thread has work; each C element is summed in one fixed order.
            // On several threads, 17 to 40 panels (a ViT's 197 tokens) take one range per thread
            // and every column: each thread reads and writes the rows the one before wrote on its
            // core (DeiT-Tiny 4-5 % faster on two threads than with ranges of eight and column
            // halves, where each thread read rows and columns of both; splitting the columns of
            // the wide layers instead, qkv and fc1, was 3-6 % slower).
            let threads = Parallel.threads, midRows = threads > 1 && panels > 16 && panels <= 40
            let panelsPerRange = !midRows ? PanelGemm.evenRangeSize(panels, atMost: 8) : (panels + threads - 1) / threads
            let ranges = (panels + panelsPerRange - 1) / panelsPerRange
            let columnSplits = midRows || ranges >= 4 * threads || tiles < 2 ? 1 : 2
            Parallel.forEach(ranges * columnSplits) { item in
                let range = item / columnSplits, split = item % columnSplits
                let splitTiles = Parallel.evenPart(split, of: tiles, parts: columnSplits)
                let rangePanels = (range * panelsPerRange)..<min(panels, (range + 1) * panelsPerRange)
                let rangeFirst = rangePanels.lowerBound * PanelGemm.rowsPerPanel
                let rangeRows = min(m, rangePanels.upperBound * PanelGemm.rowsPerPanel) - rangeFirst
                func multiplyRange(_ prepared: UnsafeMutablePointer<Float>?) {
                    // Row `row` of A, where this item reads it.
                    func rowStart(_ row: Int) -> UnsafePointer<Float> {
                        prepared.map { UnsafePointer($0 + (row - rangeFirst) * k) } ?? a + row * k
                    }
                    var k0 = 0
                    while k0 < k {
                        let d = min(b.sliceDepth, k - k0)
                        let slice = packedB.baseAddress! + k0 * tiles * columnsPerTile
                        // Each tile of B's slice stays in L1 while the range's panels pass over it.
                        for t in splitTiles {
                            let column = t * columnsPerTile
                            for panel in rangePanels {
                                let firstRow = panel * PanelGemm.rowsPerPanel
                                // The first panel asks for the next tile of B as it goes (one line per
                                // step of k), so a tile coming from memory is in cache before the
                                // panels need it: the weights of a transformer's MatMuls are read
                                // from memory on every run (DeiT-Tiny 2-3 % faster).
                                let next = panel == rangePanels.lowerBound && t + 1 < splitTiles.upperBound
                                    ? UnsafeRawPointer(slice + (t + 1) * d * columnsPerTile) : nil
                                rowTile(rowStart(firstRow) + k0, lda: k, rowCount: min(PanelGemm.rowsPerPanel, m - firstRow),
                                        slice + t * d * columnsPerTile, depth: d, prefetching: next, firstRow: firstRow, column: column,
                                        width: min(columnsPerTile, n - column), n: n, accumulate: k0 > 0, finish: k0 + d == k,
                                        columnBias: columnBias, residual: residual, activation: activation.inRegisters, c: c)
                            }
                        }
                        k0 += d
                    }
                    if activation.isCurve {
                        let first = splitTiles.lowerBound * columnsPerTile, end = min(n, splitTiles.upperBound * columnsPerTile)
                        activation.applyCurve(c + rangeFirst * n + first, rows: rangeRows, columns: end - first, rowStride: n)
                    }
                }
                guard let prepareRows else { return multiplyRange(nil) }
                Scratch.withFloats(rangeRows * k) { prepared in
                    prepareRows(rangeFirst, rangeRows, prepared)
                    multiplyRange(prepared)
                }
            }
        }
    }

    /// One 6x16 tile of C from six rows of A read in place (row stride `lda`; rows past
    /// `rowCount` repeat the last, never stored) and a packed tile of B.
    @inline(__always)
    static func rowTile(_ a: UnsafePointer<Float>, lda: Int, rowCount: Int, _ b: UnsafePointer<Float>, depth: Int,
                        prefetching next: UnsafeRawPointer? = nil, firstRow: Int, column: Int, width: Int, n: Int, accumulate: Bool, finish: Bool,
                        columnBias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                        c: UnsafeMutablePointer<Float>) {
        var sums = PanelGemm.TileSums()
        let last = rowCount - 1
        let r0 = a, r1 = a + min(1, last) * lda, r2 = a + min(2, last) * lda
        let r3 = a + min(3, last) * lda, r4 = a + min(4, last) * lda, r5 = a + min(5, last) * lda
        var pb = UnsafeRawPointer(b)
        if width <= 8 {
            for p in 0..<depth {
                sums.addHalf(r0[p], r1[p], r2[p], r3[p], r4[p], r5[p], pb.loadUnaligned(as: SIMD8<Float>.self))
                pb += 64
            }
        } else if let next {
            for p in 0..<depth {
                mk_prefetch_l2(next + p * 64)
                sums.add(r0[p], r1[p], r2[p], r3[p], r4[p], r5[p],
                         pb.loadUnaligned(as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                pb += 64
            }
        } else {
            for p in 0..<depth {
                sums.add(r0[p], r1[p], r2[p], r3[p], r4[p], r5[p],
                         pb.loadUnaligned(as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                pb += 64
            }
        }
        sums.store(firstRow: firstRow, rowCount: rowCount, column: column, width: width, n: n, accumulate: accumulate,
                   finish: finish, bias: nil, columnBias: columnBias, residual: residual, activation: activation, c: c)
    }
}
