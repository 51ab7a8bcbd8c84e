import ManakoCore
import Testing

@Test func gemmHandWorked() throws {
    // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]; alpha 2, beta 1 with C = [1, -1].
    let y = try run(Gemm(alpha: 2, beta: 1), t([2, 2], [1, 2, 3, 4]), t([2, 2], [5, 6, 7, 8]), t([2], [1, -1]))
    #expect(try y.floats() == [39, 43, 87, 99])
    let z = try run(Gemm(transA: true, transB: true), t([2, 1], [1, 2]), t([1, 2], [3, 4]))
    #expect(try z.floats() == [11])
    #expect(throws: ManakoError.self) { try run(Gemm(), t([2, 3], Array(repeating: 0, count: 6)), t([2, 3], Array(repeating: 0, count: 6))) }
}

/// OpenBLAS SGEMM (one row: SGEMV, or `dotRows` for B stored as rows, split across threads)
/// against the triple-loop twin on awkward sizes and transpositions: short rows of B one at a
/// time (depths of 32s, 8s and a scalar tail), long ones (over `GemmKernel.shortRow`) in fours
/// and a remainder (16s, an 8, a scalar tail).
@Test(arguments: [(1, 1, 1), (7, 1, 127), (127, 7, 1), (1001, 3, 7), (13, 17, 19), (1, 1000, 257), (1, 7, 127),
                  (1, 9, 1001), (1, 5, 16), (1, 131, 24), (1, 4, 7), (1, 3, 63), (1, 9, 2049), (1, 7, 2072), (1, 6, 2103)])
func sgemmMatchesReference(_ size: (Int, Int, Int)) {
    let (m, n, k) = size
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a = pseudoRandom(m * k, seed: 4), b = pseudoRandom(k * n, seed: 5)
        var expected = pseudoRandom(m * n, seed: 6)
        var actual = expected
        GemmKernel.referenceGemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: ta ? m : k,
                                 b: b, ldb: tb ? k : n, beta: 2, c: &expected, ldc: n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                actual.withUnsafeMutableBufferPointer { cp in
                    Parallel.withThreads(2) {
                        GemmKernel.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: ta ? m : k,
                                         b: bp.baseAddress!, ldb: tb ? k : n, beta: 2, c: cp.baseAddress!, ldc: n)
                    }
                }
            }
        }
        expectClose(actual, expected, "sgemm \(size) \(ta) \(tb)")
    }
}

/// The 6x16 register-tile GEMM with its fused epilogue against the triple loop, on sizes that
/// leave partial panels and tiles (and single last columns, which take their own path), with and
/// without bias, residual and activation, on 1 and 2 threads (bit-identical). One column of B
/// over a long K on the direct route (a squeeze-excitation layer: K unsliced, B read in place)
/// and on the packed one (130 rows), and a last single column read in place over slices of K.
@Test(arguments: [(1, 1, 1), (6, 16, 1), (7, 127, 13), (13, 1001, 7), (64, 49, 576), (5, 17, 300), (33, 4000, 3),
                  (7, 17, 5), (13, 33, 70), (6, 1, 3), (130, 49, 300), (127, 33, 40), (48, 1, 1152), (130, 1, 300),
                  (13, 49, 600)])
func panelGemmMatchesReference(_ size: (Int, Int, Int)) {
    let (m, n, k) = size
    let a = pseudoRandom(m * k, seed: 41), b = pseudoRandom(k * n, seed: 42)
    let bias = pseudoRandom(m, seed: 43), residual = pseudoRandom(m * n, seed: 44)
    var product = [Float](repeating: 0, count: m * n)
    GemmKernel.referenceGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0, c: &product, ldc: n)
    let packed = a.withUnsafeBufferPointer { PanelGemm.PackedA($0.baseAddress!, rows: m, depth: k, rowStride: k) }
    var oneThread: [String: [Float]] = [:]
    for threads in [1, 2] {
        for (useBias, useResidual, activation) in [(false, false, FusedActivation.none), (true, true, .relu), (true, false, .clip(min: -0.5, max: 0.5))] {
            var c = [Float](repeating: .nan, count: m * n)
            Parallel.withThreads(threads) {
                b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in residual.withUnsafeBufferPointer { rp in
                    c.withUnsafeMutableBufferPointer { cp in
                        PanelGemm.multiply(packed, bp.baseAddress!, columns: n, bias: useBias ? biasp.baseAddress! : nil,
                                           residual: useResidual ? rp.baseAddress! : nil, activation: activation, into: cp.baseAddress!)
                    }
                } } }
            }
            let expected = (0..<(m * n)).map { i -> Float in
                var v = product[i] + (useBias ? bias[i / n] : 0) + (useResidual ? residual[i] : 0)
                if activation == .relu { v = max(v, 0) }
                if case .clip(let lo, let hi) = activation { v = min(max(v, lo), hi) }
                return v
            }
            expectClose(c, expected, "panel gemm \(size) threads \(threads) \(activation)")
            // Two threads split the work (by column blocks, or panel ranges sharing one packed B)
            // without changing any sum's order.
            let key = "\(useBias) \(useResidual) \(activation)"
            if threads == 1 { oneThread[key] = c } else { #expect(c == oneThread[key], "1 vs 2 threads differ for \(size)") }
        }
    }
}

/// OpenBLAS products split across threads (by columns, or rows, or SGEMV chunks) give the
/// same bits as one thread, with and without transposition.
@Test(arguments: [(197, 768, 192), (197, 192, 768), (3, 1000, 1280), (300, 100, 64), (1, 1000, 512)])
func splitOpenBLASProductsAreBitIdentical(_ size: (Int, Int, Int)) {
    let (m, n, k) = size
    let a = pseudoRandom(m * k, seed: 81), b = pseudoRandom(k * n, seed: 82)
    for (ta, tb) in [(false, false), (false, true), (true, false)] {
        func product(_ threads: Int) -> [Float] {
            var c = [Float](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                Parallel.withThreads(threads) {
                    GemmKernel.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 1, a: ap.baseAddress!, lda: ta ? m : k,
                                     b: bp.baseAddress!, ldb: tb ? k : n, beta: 0, c: cp.baseAddress!, ldc: n)
                }
            } } }
            return c
        }
        let one = product(1)
        #expect(product(2) == one && product(3) == one, "\(size) transA \(ta) transB \(tb)")
    }
}

/// The GEMM with B packed at load (MatMul weights) against the triple loop: rows of A read in
/// place with partial six-row panels, partial and single-column tiles, K in one slice (300, 600)
/// and in two (1001), K of 1, 17 to 40 panels (one range per thread); bit-identical with one and
/// two threads, and with B packed from its columns in the same slices.
@Test(arguments: [(1, 1, 1), (197, 576, 192), (7, 17, 300), (13, 1, 5), (50, 33, 600), (6, 16, 1), (130, 200, 64),
                   (19, 40, 1001)])
func packedBGemmMatchesReference(_ size: (Int, Int, Int)) {
    let (m, n, k) = size
    let a = pseudoRandom(m * k, seed: 91), b = pseudoRandom(k * n, seed: 92)
    var expected = [Float](repeating: 0, count: m * n)
    GemmKernel.referenceGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0, c: &expected, ldc: n)
    let packed = b.withUnsafeBufferPointer { PackedBGemm.PackedB($0.baseAddress!, depth: k, columns: n) }
    func product(_ threads: Int) -> [Float] {
        var c = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { ap in c.withUnsafeMutableBufferPointer { cp in
            Parallel.withThreads(threads) { PackedBGemm.multiply(ap.baseAddress!, rows: m, packed, into: cp.baseAddress!) }
        } }
        return c
    }
    let one = product(1)
    expectClose(one, expected, "packed-B gemm \(size)")
    #expect(product(2) == one, "1 vs 2 threads differ for \(size)")
    // The same B packed from its columns (a filter bank: column j at j * stride, row k at a
    // permuted offset), as the convolutions' weights are: the same packing, the same bits.
    let stride = k + 3, offsets = (0..<k).map { k - 1 - $0 }
    var columns = [Float](repeating: .nan, count: n * stride)
    for row in 0..<k { for j in 0..<n { columns[j * stride + offsets[row]] = b[row * n + j] } }
    let fromColumns = columns.withUnsafeBufferPointer { source in
        offsets.withUnsafeBufferPointer {
            PackedBGemm.PackedB(columnsOf: source.baseAddress!, columnStride: stride, rowOffsets: $0.baseAddress!, depth: k, columns: n,
                                maxSliceDepth: 768)
        }
    }
    var c = [Float](repeating: .nan, count: m * n)
    a.withUnsafeBufferPointer { ap in c.withUnsafeMutableBufferPointer { cp in
        PackedBGemm.multiply(ap.baseAddress!, rows: m, fromColumns, into: cp.baseAddress!)
    } }
    #expect(c == one, "B packed from its columns differs for \(size)")
    // Columns in order (no row offsets): packed by 8x8 transposes, partial blocks of rows and
    // columns by the scalar loop; the same packing.
    let inOrder = (0..<(n * k)).map { b[($0 % k) * n + $0 / k] }
    let transposed = inOrder.withUnsafeBufferPointer {
        PackedBGemm.PackedB(columnsOf: $0.baseAddress!, columnStride: k, rowOffsets: nil, depth: k, columns: n, maxSliceDepth: 768)
    }
    var d = [Float](repeating: .nan, count: m * n)
    a.withUnsafeBufferPointer { ap in d.withUnsafeMutableBufferPointer { dp in
        PackedBGemm.multiply(ap.baseAddress!, rows: m, transposed, into: dp.baseAddress!)
    } }
    #expect(d == one, "B packed from its columns in order differs for \(size)")
    // A column bias and GELU, which runs over each work item's rows once all its tiles are stored
    // (the curve after the products, not per tile): against the reference mapped element by element.
    let columnBias = pseudoRandom(n, seed: 95), gelu = scalarActivation(.gelu)
    let mappedExpected = expected.enumerated().map { gelu($1 + columnBias[$0 % n]) }
    func mapped(_ threads: Int) -> [Float] {
        var e = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { ap in columnBias.withUnsafeBufferPointer { bp in e.withUnsafeMutableBufferPointer { ep in
            Parallel.withThreads(threads) {
                PackedBGemm.multiply(ap.baseAddress!, rows: m, packed, columnBias: bp.baseAddress!, activation: .gelu, into: ep.baseAddress!)
            }
        } } }
        return e
    }
    let mappedOne = mapped(1)
    expectClose(mappedOne, mappedExpected, "packed-B gemm + bias + GELU \(size)")
    #expect(mapped(2) == mappedOne, "packed-B gemm + bias + GELU: 1 vs 2 threads differ for \(size)")
    // A residual (laid out as C) added as each tile is stored, then a ReLU in registers.
    let residual = pseudoRandom(m * n, seed: 96)
    let shortcutExpected = expected.enumerated().map { max(0, $1 + columnBias[$0 % n] + residual[$0]) }
    func shortcut(_ threads: Int) -> [Float] {
        var e = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { ap in columnBias.withUnsafeBufferPointer { bp in residual.withUnsafeBufferPointer { rp in
            e.withUnsafeMutableBufferPointer { ep in
                Parallel.withThreads(threads) {
                    PackedBGemm.multiply(ap.baseAddress!, rows: m, packed, columnBias: bp.baseAddress!, residual: rp.baseAddress!,
                                         activation: .relu, into: ep.baseAddress!)
                }
            }
        } } }
        return e
    }
    let shortcutOne = shortcut(1)
    expectClose(shortcutOne, shortcutExpected, "packed-B gemm + bias + residual + ReLU \(size)")
    #expect(shortcut(2) == shortcutOne, "packed-B gemm + residual: 1 vs 2 threads differ for \(size)")
}

/// MatMul with a constant B goes through the packed path after import-time packing, including a
/// 3-D A (rows of all leading dimensions) and B dropped: same numbers as the plain product.
@Test func matMulWithPackedWeightsMatchesThePlainProduct() throws {
    let a = pseudoRandom(2 * 5 * 7, seed: 93), b = pseudoRandom(7 * 19, seed: 94)
    let plain = try MatMul().run([t([2, 5, 7], a), t([7, 19], b)])[0]
    var packed = MatMul()
    packed.packedB = b.withUnsafeBufferPointer { PackedBGemm.PackedB($0.baseAddress!, depth: 7, columns: 19) }
    let fast = try packed.run([t([2, 5, 7], a), nil])[0]
    #expect(fast.shape == [2, 5, 19])
    expectClose(try fast.floats(), try plain.floats(), "packed MatMul")
    #expect(throws: ManakoError.self) { try packed.run([t([2, 5, 6], Array(a.prefix(60))), nil]) }
}

/// B given row by row (`PanelGemm.RowSource`, a Concat's parts read where they are), each row
/// through its scale, shift and ReLU as it is packed, against the triple loop on the joined and
/// mapped B: rows from three separate arrays, partial panels and tiles, 1 and 2 threads.
@Test(arguments: [(1, 1, [1]), (7, 33, [5, 1, 7]), (130, 300, [64, 32, 200]), (13, 17, [3, 300])])
func panelGemmReadsRowsThroughTheirMap(_ size: (Int, Int, [Int])) {
    let (m, n, parts) = size
    let k = parts.reduce(0, +)
    let a = pseudoRandom(m * k, seed: 141), scale = pseudoRandom(k, seed: 142), shift = pseudoRandom(k, seed: 143)
    let arrays = parts.enumerated().map { pseudoRandom($1 * n, seed: 144 + UInt64($0)) }
    // The joined B, mapped as the packing maps it.
    let joined = arrays.flatMap { $0 }
    let mapped = joined.enumerated().map { max(0, $1 * scale[$0 / n] + shift[$0 / n]) }
    var expected = [Float](repeating: 0, count: m * n)
    GemmKernel.referenceGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: mapped, ldb: n, beta: 0, c: &expected, ldc: n)
    let packed = a.withUnsafeBufferPointer { PanelGemm.PackedA($0.baseAddress!, rows: m, depth: k, rowStride: k) }
    for threads in [1, 2] {
        var c = [Float](repeating: .nan, count: m * n)
        arrays[0].withUnsafeBufferPointer { p0 in arrays[1 % arrays.count].withUnsafeBufferPointer { p1 in arrays[2 % arrays.count].withUnsafeBufferPointer { p2 in
            let bases = [p0.baseAddress!, p1.baseAddress!, p2.baseAddress!]
            var rows: [UnsafePointer<Float>] = []
            for (part, count) in parts.enumerated() { for row in 0..<count { rows.append(bases[part] + row * n) } }
            rows.withUnsafeBufferPointer { table in scale.withUnsafeBufferPointer { s in shift.withUnsafeBufferPointer { t in
                c.withUnsafeMutableBufferPointer { cp in
                    Parallel.withThreads(threads) {
                        PanelGemm.multiply(packed, rows: PanelGemm.RowSource(rows: table.baseAddress!, scale: s.baseAddress!, shift: t.baseAddress!,
                                                                             activation: .relu),
                                           columns: n, bias: nil, residual: nil, activation: .none, into: cp.baseAddress!)
                    }
                }
            } } }
        } } }
        expectClose(c, expected, "row-source gemm \(size) threads \(threads)")
    }
}

/// One row times a B stored as rows with beta 0: C is written, never read (a NaN there stays
/// out), as BLAS defines it; hand-worked dot products.
@Test func oneRowProductIgnoresCWhenBetaIsZero() {
    let a: [Float] = [1, 2, 3], b: [Float] = [1, 0, 0, 0, 1, 0, 1, 1, 1, 2, -1, 0, 0.5, 0.5, 0.5]
    var c = [Float](repeating: .nan, count: 5)
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
                GemmKernel.sgemm(transA: false, transB: true, m: 1, n: 5, k: 3, alpha: 2, a: ap.baseAddress!, lda: 3,
                                 b: bp.baseAddress!, ldb: 3, beta: 0, c: cp.baseAddress!, ldc: 5)
            }
        }
    }
    #expect(c == [2, 4, 12, 0, 6])
}
