import CManakoSIMD

/// softmax(scale · Q Kᵀ + bias) V for every (batch, head), six query rows at a time: the six rows'
/// scores stay in L1, are exponentiated in place, and multiply V there, so no scores tensor,
/// no separate Softmax pass and no transposed copies of the heads exist.
/// Layout: every operand is a strided [batch][heads][rows][columns] view (Q [T, D], K [S, D],
/// V [S, E], output [T, E] per head), so heads are read where a fused QKV projection wrote them.
/// K (times the scale) and V are packed per head into PanelGemm's [tile][k][16] panels, K by
/// 8x8 register transposes; Q rows are read in place. Scores and the output use PanelGemm's
/// 6x16 register tile. Twin: `referenceAttention`, tested on awkward sizes.
public enum AttentionKernel {
    /// A strided four-axis view: element (b, h, r, c) at `base + b·s0 + h·s1 + r·s2 + c·s3`
    /// (a stride of 0 broadcasts an axis of one).
    public struct View {
        public var base: UnsafePointer<Float>
        public var strides: [Int]

        public init(base: UnsafePointer<Float>, strides: [Int]) {
            self.base = base
            self.strides = strides
        }

        @inline(__always)
        func at(_ b: Int, _ h: Int) -> UnsafePointer<Float> { base + b * strides[0] + h * strides[1] }
    }

    /// The sizes of one call: `batch` x `heads` products of T = `queries` rows of depth D
    /// against S = `keys` rows, each of E = `valueDepth` values.
    public struct Shape: Equatable, Sendable {
        public var batch, heads, queries, keys, depth, valueDepth: Int

        public init(batch: Int, heads: Int, queries: Int, keys: Int, depth: Int, valueDepth: Int) {
            (self.batch, self.heads, self.queries, self.keys, self.depth, self.valueDepth) = (batch, heads, queries, keys, depth, valueDepth)
        }
    }

    static let rows = PanelGemm.rowsPerPanel
    static let width = PanelGemm.columnsPerTile
    /// Blocks of six query rows per work item: enough work per claim, enough items to share.
    static let blocksPerItem = 4

    /// The pool buffer `run` takes for `shape` (every head's packed K and V; a load's sizing run
    /// reserves it).
    public static func poolScratch(_ shape: Shape) -> [Int] {
        guard shape.batch * shape.heads > 0, shape.queries > 0, shape.valueDepth > 0, shape.keys > 0 else { return [] }
        return [packedFloats(shape)]
    }

    /// Every head's key panels then value panels, as `run` packs them.
    static func packedFloats(_ shape: Shape) -> Int {
        let keyTiles = (shape.keys + width - 1) / width, valueTiles = (shape.valueDepth + width - 1) / width
        return shape.batch * shape.heads * (keyTiles * width * shape.depth + valueTiles * width * shape.keys)
    }

    /// Writes softmax(scale · Q Kᵀ + bias) V into `output` (strides as for a `View`, columns
    /// contiguous or not); `bias`, when given, is a [batch][heads][queries][keys] view (a
    /// position bias or mask). Q, K and V must not overlap the output. Shapes with a zero size
    /// write nothing.
    public static func run(query q: View, key k: View, value v: View, scale: Float, bias: View? = nil, shape: Shape,
                           output: UnsafeMutablePointer<Float>, outputStrides: [Int]) {
        let (t, s, d, e) = (shape.queries, shape.keys, shape.depth, shape.valueDepth)
        let pairs = shape.batch * shape.heads
        guard pairs > 0, t > 0, e > 0 else { return }
        if s == 0 {
            // Softmax over no keys is 0/0: NaN, as the unfused graph gives.
            for p in 0..<pairs {
                for r in 0..<t { for c in 0..<e { output[offset(p, r, c, shape: shape, strides: outputStrides)] = .nan } }
            }
            return
        }
        let keyTiles = (s + width - 1) / width, valueTiles = (e + width - 1) / width
        let keyPanels = keyTiles * width * d, valuePanels = valueTiles * width * s
        let packed = BufferPool.floats(packedFloats(shape)) { scratch in
            let base = scratch.baseAddress!
            Parallel.forEach(pairs) { p in
                let (b, h) = p.quotientAndRemainder(dividingBy: shape.heads)
                packKeys(k, b, h, keys: s, depth: d, scale: scale, into: base + p * (keyPanels + valuePanels))
                packValues(v, b, h, keys: s, valueDepth: e, into: base + p * (keyPanels + valuePanels) + keyPanels)
            }
            let blocks = (t + rows - 1) / rows, chunks = (blocks + blocksPerItem - 1) / blocksPerItem
            Parallel.forEach(pairs * chunks) { item in
                let (p, chunk) = item.quotientAndRemainder(dividingBy: chunks)
                let (b, h) = p.quotientAndRemainder(dividingBy: shape.heads)
                let keyPanel = UnsafePointer(base + p * (keyPanels + valuePanels)), valuePanel = keyPanel + keyPanels
                let scoreStride = keyTiles * width
                let blockRange = (chunk * blocksPerItem)..<min(blocks, (chunk + 1) * blocksPerItem), n = blockRange.count
                let firstRow = blockRange.lowerBound * rows, count = min(n * rows, t - firstRow)
                withUnsafeTemporaryAllocation(of: Float.self, capacity: n * rows * (d + scoreStride + 1) + rows * width) { temporary in
                    let copiedQuery = temporary.baseAddress!, scores = copiedQuery + n * rows * d
                    let inverse = scores + n * rows * scoreStride, tile = inverse + n * rows
                    let outputHead = output + b * outputStrides[0] + h * outputStrides[1]
                    withUnsafeTemporaryAllocation(of: (rows: UnsafePointer<Float>, stride: Int).self, capacity: n) { queryBlocks in
                        for i in 0..<n {
                            queryBlocks[i] = queryRows(q, b, h, first: firstRow + i * rows, count: min(rows, t - firstRow - i * rows),
                                                       depth: d, copyInto: copiedQuery + i * rows * d)
                        }
                        // Each key tile (4 KB at depth 64) and value tile meets all the item's blocks while in L1.
                        // A last tile of at most eight keys (197 = 12 x 16 + 5) takes half the multiply-adds.
                        for kt in 0..<keyTiles {
                            let wide = s - kt * width > width / 2
                            for i in 0..<n {
                                multiplyTile(queryBlocks[i].rows, aStride: queryBlocks[i].stride, keyPanel + kt * width * d, depth: d,
                                             into: scores + i * rows * scoreStride + kt * width, cStride: scoreStride, wide: wide)
                            }
                        }
                    }
                    for r in 0..<count {
                        let row = scores + r * scoreStride
                        if let bias { addBias(bias.at(b, h) + (firstRow + r) * bias.strides[2], stride: bias.strides[3], keys: s, to: row) }
                        inverse[r] = 1 / Softmax.exponentiateRow(row, count: s, into: row)
                    }
                    for vt in 0..<valueTiles {
                        let column = vt * width, columns = min(width, e - column)
                        for i in 0..<n {
                            multiplyTile(scores + i * rows * scoreStride, aStride: scoreStride, valuePanel + vt * width * s, depth: s,
                                         into: tile, cStride: width)
                            for r in 0..<min(rows, count - i * rows) {
                                let target = outputHead + (firstRow + i * rows + r) * outputStrides[2] + column * outputStrides[3]
                                storeRow(tile + r * width, times: inverse[i * rows + r], columns: columns, into: target, stride: outputStrides[3])
                            }
                        }
                    }
                }
            }
        }
        BufferPool.recycle(packed)
    }

    @inline(__always)
    static func offset(_ pair: Int, _ r: Int, _ c: Int, shape: Shape, strides: [Int]) -> Int {
        let (b, h) = pair.quotientAndRemainder(dividingBy: shape.heads)
        return b * strides[0] + h * strides[1] + r * strides[2] + c * strides[3]
    }

    /// Kᵀ of one head times `scale` as [tile][d][16]: tile t holds keys 16t ..< 16t + 16, zero
    /// past the last. Eight keys of contiguous depth at a time go through 8x8 register transposes;
    /// sixteen contiguous keys (Kᵀ as given) are copied.
    static func packKeys(_ k: View, _ b: Int, _ h: Int, keys s: Int, depth d: Int, scale: Float,
                         into target: UnsafeMutablePointer<Float>) {
        let head = k.at(b, h), (rowStride, columnStride) = (k.strides[2], k.strides[3])
        let tiles = (s + width - 1) / width
        for tile in 0..<tiles {
            let panel = target + tile * width * d, present = min(width, s - tile * width)
            var first = 0
            if rowStride == 1 && present == width {
                // Kᵀ given with keys contiguous: each depth's sixteen keys are one copy.
                let keys = UnsafeRawPointer(head + tile * width), to = UnsafeMutableRawPointer(panel)
                for j in 0..<d {
                    let from = keys + j * columnStride * MemoryLayout<Float>.stride
                    to.storeBytes(of: from.loadUnaligned(as: SIMD8<Float>.self), toByteOffset: j * width * 4, as: SIMD8<Float>.self)
                    to.storeBytes(of: from.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), toByteOffset: j * width * 4 + 32, as: SIMD8<Float>.self)
                }
                first = width
            } else if columnStride == 1 {
                while first + 8 <= present {
                    let keys = head + (tile * width + first) * rowStride
                    var j = 0
                    while j + 8 <= d {
                        mk_transpose8x8(keys + j, rowStride, panel + j * width + first, width)
                        j += 8
                    }
                    for j in j..<d { for c in 0..<8 { panel[j * width + first + c] = keys[c * rowStride + j] } }
                    first += 8
                }
            }
            for c in first..<width {
                let key = head + (tile * width + c) * rowStride
                if c < present {
                    for j in 0..<d { panel[j * width + c] = key[j * columnStride] }
                } else {
                    for j in 0..<d { panel[j * width + c] = 0 }
                }
            }
        }
        if scale != 1 {
            let factor = SIMD8<Float>(repeating: scale), raw = UnsafeMutableRawPointer(target)
            for i in 0..<(tiles * width * d / 8) {
                raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 32, as: SIMD8<Float>.self) * factor, toByteOffset: i * 32,
                               as: SIMD8<Float>.self)
            }
        }
    }

    /// V of one head as [tile][key][16]: tile t holds value columns 16t ..< 16t + 16, zero past E.
    static func packValues(_ v: View, _ b: Int, _ h: Int, keys s: Int, valueDepth e: Int, into target: UnsafeMutablePointer<Float>) {
        let head = v.at(b, h), (rowStride, columnStride) = (v.strides[2], v.strides[3])
        for tile in 0..<((e + width - 1) / width) {
            let panel = target + tile * width * s, first = tile * width, present = min(width, e - first)
            for key in 0..<s {
                let source = head + key * rowStride + first * columnStride, row = panel + key * width
                if present == width && columnStride == 1 {
                    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(row)
                    to.storeBytes(of: from.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                    to.storeBytes(of: from.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), toByteOffset: 32, as: SIMD8<Float>.self)
                } else {
                    for c in 0..<width { row[c] = c < present ? source[c * columnStride] : 0 }
                }
            }
        }
    }

    /// Six query rows from `first` (`count` of them present) as rows of contiguous depth: in
    /// place when the block is full and its depth contiguous, else copied into `copy` as [6][d]
    /// (missing rows zero). Returns the first row and the stride between rows.
    static func queryRows(_ q: View, _ b: Int, _ h: Int, first: Int, count: Int, depth d: Int,
                          copyInto copy: UnsafeMutablePointer<Float>) -> (rows: UnsafePointer<Float>, stride: Int) {
        let head = q.at(b, h), (rowStride, columnStride) = (q.strides[2], q.strides[3])
        if count == rows && (columnStride == 1 || d == 1) { return (head + first * rowStride, rowStride) }
        for r in 0..<rows {
            let query = head + (first + r) * rowStride
            for j in 0..<d { copy[r * d + j] = r < count ? query[j * columnStride] : 0 }
        }
        return (UnsafePointer(copy), d)
    }

    /// Six rows of `a` (`aStride` floats apart, `depth` long) times one packed [depth][16]
    /// tile, into six rows of 16 `cStride` floats apart: a tile of scores (query rows times a
    /// key tile) or of output sums (weight rows times a value tile). Unless `wide`, only the
    /// tile's first eight columns, at half the multiply-adds.
    @inline(__always)
    static func multiplyTile(_ a: UnsafePointer<Float>, aStride: Int, _ tile: UnsafePointer<Float>, depth: Int,
                             into c: UnsafeMutablePointer<Float>, cStride: Int, wide: Bool = true) {
        var sums = PanelGemm.TileSums()
        var b = UnsafeRawPointer(tile)
        let (a0, a1, a2) = (a, a + aStride, a + 2 * aStride)
        let (a3, a4, a5) = (a + 3 * aStride, a + 4 * aStride, a + 5 * aStride)
        if wide {
            for j in 0..<depth {
                sums.add(a0[j], a1[j], a2[j], a3[j], a4[j], a5[j],
                         b.loadUnaligned(as: SIMD8<Float>.self), b.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                b += width * MemoryLayout<Float>.stride
            }
        } else {
            for j in 0..<depth {
                sums.addHalf(a0[j], a1[j], a2[j], a3[j], a4[j], a5[j], b.loadUnaligned(as: SIMD8<Float>.self))
                b += width * MemoryLayout<Float>.stride
            }
        }
        let row = UnsafeMutableRawPointer(c)
        sums.store(rows: rows, low: row, high: row + 32, stride: cStride * MemoryLayout<Float>.stride, wide: wide)
    }

    /// A row of scores plus its row of the bias (`keys` values `stride` floats apart).
    @inline(__always)
    static func addBias(_ bias: UnsafePointer<Float>, stride: Int, keys s: Int, to row: UnsafeMutablePointer<Float>) {
        if stride == 1 {
            var j = 0
            while j + 8 <= s {
                let sum = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(bias + j).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(row + j).storeBytes(of: sum, as: SIMD8<Float>.self)
                j += 8
            }
            while j < s { row[j] += bias[j]; j += 1 }
        } else {
            for j in 0..<s { row[j] += bias[j * stride] }
        }
    }

    /// One output row: `columns` sums times the row's 1 / (sum of its weights).
    @inline(__always)
    static func storeRow(_ sums: UnsafePointer<Float>, times factor: Float, columns: Int, into target: UnsafeMutablePointer<Float>,
                         stride: Int) {
        if columns == width && stride == 1 {
            let f = SIMD8<Float>(repeating: factor), source = UnsafeRawPointer(sums), out = UnsafeMutableRawPointer(target)
            out.storeBytes(of: source.loadUnaligned(as: SIMD8<Float>.self) * f, as: SIMD8<Float>.self)
            out.storeBytes(of: source.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self) * f, toByteOffset: 32, as: SIMD8<Float>.self)
        } else {
            for c in 0..<columns { target[c * stride] = sums[c] * factor }
        }
    }

    /// The plain twin: scores, softmax and product in Double, one element at a time.
    public static func referenceAttention(query q: View, key k: View, value v: View, scale: Float, bias: View? = nil, shape: Shape,
                                          output: UnsafeMutablePointer<Float>, outputStrides: [Int]) {
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                let (qh, kh, vh) = (q.at(b, h), k.at(b, h), v.at(b, h))
                for r in 0..<shape.queries {
                    var scores = [Double](repeating: 0, count: shape.keys)
                    for j in 0..<shape.keys {
                        var sum = 0.0
                        for c in 0..<shape.depth {
                            sum += Double(qh[r * q.strides[2] + c * q.strides[3]]) * Double(kh[j * k.strides[2] + c * k.strides[3]])
                        }
                        scores[j] = sum * Double(scale) + Double(bias.map { $0.at(b, h)[r * $0.strides[2] + j * $0.strides[3]] } ?? 0)
                    }
                    let peak = scores.max() ?? 0
                    let weights = scores.map { CMath.exp($0 - peak) }
                    let total = weights.reduce(0, +)
                    for c in 0..<shape.valueDepth {
                        var sum = 0.0
                        for j in 0..<shape.keys { sum += weights[j] * Double(vh[j * v.strides[2] + c * v.strides[3]]) }
                        output[b * outputStrides[0] + h * outputStrides[1] + r * outputStrides[2] + c * outputStrides[3]] = Float(sum / total)
                    }
                }
            }
        }
    }
}
