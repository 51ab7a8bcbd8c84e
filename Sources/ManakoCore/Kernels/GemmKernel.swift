import CBLAS

/// OpenBLAS runs single-threaded: Manako splits work across threads itself, and OpenBLAS's FAQ
/// says its pthreads build may then be called from many threads at once. Set on first use.
let openBLASSingleThreaded: Void = openblas_set_num_threads(1)

/// Matrix product C = alpha * op(A) * op(B) + beta * C, row-major.
/// OpenBLAS does the work; `referenceGemm` is its plain twin for tests.
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
                if transB {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(columns.count), blasint(k), alpha, b + columns.lowerBound * ldb,
                                blasint(ldb), a, blasint(transA ? lda : 1), beta, c + columns.lowerBound, 1)
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
