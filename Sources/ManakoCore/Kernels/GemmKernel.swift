import CBLAS
import CManakoSIMD

/// OpenBLAS runs single-threaded: Manako splits work across threads itself, and OpenBLAS's FAQ
/// says its pthreads build may then be called from many threads at once. Set on first use.
let openBLASSingleThreaded: Void = openblas_set_num_threads(1)

/// Matrix product C = alpha * op(A) * op(B) + beta * C, row-major.
/// OpenBLAS does the work (but one row times a B stored as rows: `dotRows`); `referenceGemm` is
/// its plain twin for tests.
public enum GemmKernel {
    /// Row-major SGEMM through OpenBLAS. A is M x K (K x M when transposed), B is K x N (N x K when transposed).
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        _ = openBLASSingleThreaded
        if m == 1 {
            // One row (a classifier at batch 1): a matrix-vector product, memory-bound, so the
            // output columns are split across threads in fixed chunks of 128, so the calls (and
            // the bits of the result) are the same for every thread count.
            let chunks = (n + 127) / 128
            Parallel.forEach(chunks) { chunk in
                let columns = (chunk * 128)..<min(n, chunk * 128 + 128)
                if transB && !transA {
                    dotRows(b, ldb: ldb, rows: columns, x: a, depth: k, alpha: alpha, beta: beta, y: c)
                } else if transB {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(columns.count), blasint(k), alpha, b + columns.lowerBound * ldb,
                                blasint(ldb), a, blasint(lda), beta, c + columns.lowerBound, 1)
                } else {
                    cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(columns.count), alpha, b + columns.lowerBound,
                                blasint(ldb), a, blasint(transA ? lda : 1), beta, c + columns.lowerBound, 1)
                }
            }
            return
        }
        if n >= 512 && m * n * k >= 1 << 20 {
            // Wide products in fixed blocks of 256 columns, spread over the threads. The blocks
            // (hence every OpenBLAS call and every bit of C) are the same for any thread count;
            // splitting by thread count would not be, as OpenBLAS rounds some partial blocks
            // differently (tested).
            let blocks = (n + 255) / 256
            Parallel.forEach(blocks) { block in
                let columns = (block * 256)..<min(n, block * 256 + 256)
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                            blasint(m), blasint(columns.count), blasint(k), alpha, a, blasint(lda),
                            b + (transB ? columns.lowerBound * ldb : columns.lowerBound), blasint(ldb), beta,
                            c + columns.lowerBound, blasint(ldc))
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// y[j] = alpha * (x . W[j]) + beta * y[j] for j in `rows` (beta 0: y is not read), W's rows
    /// `ldb` floats apart, x and each row `depth` long: the one-row product of a classifier,
    /// which streams W once and so runs at memory speed. Rows of up to `shortRow` floats go one
    /// at a time, in four chains of eight lanes (32 floats a step), then eight, then one: W is
    /// then one sequential stream, which a Zen 4 core read from memory at 39 GB/s where four
    /// rows side by side (four streams) came at 21 (a 1000 x 1280 classifier). Longer rows go
    /// four at a time in two chains each (16 floats a step), x loaded once for the four:
    /// OpenBLAS's SGEMV read VGG-19's fc6 (411 MB) at 18 GB/s, this loop at 24-27, one row at a
    /// time at 18.
    static func dotRows(_ w: UnsafePointer<Float>, ldb: Int, rows: Range<Int>, x: UnsafePointer<Float>, depth k: Int,
                        alpha: Float, beta: Float, y: UnsafeMutablePointer<Float>) {
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        @inline(__always) func finish(_ row: Int, _ low: SIMD8<Float>, _ high: SIMD8<Float>, _ tail: Int) {
            var sum = (low + high).sum()
            let r = w + row * ldb
            for i in tail..<k { sum += x[i] * r[i] }
            y[row] = beta == 0 ? alpha * sum : alpha * sum + beta * y[row]
        }
        let thirtyTwos = k / 32 * 32, sixteens = k / 16 * 16, eights = k / 8 * 8
        let fourAtATime = k > shortRow
        var row = rows.lowerBound
        while fourAtATime && row + 4 <= rows.upperBound {
            let r0 = w + row * ldb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb
            var (a0, a1, a2, a3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            var (b0, b1, b2, b3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            var i = 0
            while i < sixteens {
                let x0 = load(x + i), x1 = load(x + i + 8)
                a0 = mk_multiply_add(load(r0 + i), x0, a0); b0 = mk_multiply_add(load(r0 + i + 8), x1, b0)
                a1 = mk_multiply_add(load(r1 + i), x0, a1); b1 = mk_multiply_add(load(r1 + i + 8), x1, b1)
                a2 = mk_multiply_add(load(r2 + i), x0, a2); b2 = mk_multiply_add(load(r2 + i + 8), x1, b2)
                a3 = mk_multiply_add(load(r3 + i), x0, a3); b3 = mk_multiply_add(load(r3 + i + 8), x1, b3)
                i += 16
            }
            if i < eights {
                let x0 = load(x + i)
                a0 = mk_multiply_add(load(r0 + i), x0, a0); a1 = mk_multiply_add(load(r1 + i), x0, a1)
                a2 = mk_multiply_add(load(r2 + i), x0, a2); a3 = mk_multiply_add(load(r3 + i), x0, a3)
            }
            finish(row, a0, b0, eights)
            finish(row + 1, a1, b1, eights)
            finish(row + 2, a2, b2, eights)
            finish(row + 3, a3, b3, eights)
            row += 4
        }
        while row < rows.upperBound {
            let r0 = w + row * ldb
            var (a0, b0, c0, d0) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            var i = 0
            while i < thirtyTwos {
                a0 = mk_multiply_add(load(r0 + i), load(x + i), a0); b0 = mk_multiply_add(load(r0 + i + 8), load(x + i + 8), b0)
                c0 = mk_multiply_add(load(r0 + i + 16), load(x + i + 16), c0); d0 = mk_multiply_add(load(r0 + i + 24), load(x + i + 24), d0)
                i += 32
            }
            while i < eights {
                a0 = mk_multiply_add(load(r0 + i), load(x + i), a0)
                i += 8
            }
            finish(row, a0 + c0, b0 + d0, eights)
            row += 1
        }
    }

    /// Rows of this many floats or fewer (8 KB) are read one at a time by `dotRows`.
    static let shortRow = 2048

    /// Triple loop twin of `sgemm`, same arguments.
    public static func referenceGemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: [Float], lda: Int, b: [Float], ldb: Int, beta: Float, c: inout [Float], ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += av * bv
                }
                c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }
}
