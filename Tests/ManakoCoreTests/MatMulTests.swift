import ManakoCore
import Testing

@Test func matMulHandWorked() throws {
    // Batched with broadcast: [2,1,2] x [2,1] -> [2,1,1].
    let y = try run(MatMul(), t([2, 1, 2], [1, 2, 3, 4]), t([2, 1], [10, 1]))
    #expect(y.shape == [2, 1, 1])
    #expect(try y.floats() == [12, 34])
    // Vector x matrix drops the promoted axis.
    let v = try run(MatMul(), t([2], [1, 1]), t([2, 3], [1, 2, 3, 4, 5, 6]))
    #expect(try v.shape == [3] && v.floats() == [5, 7, 9])
}

/// Batched products with computed operands (attention's Q K^T and scores V), their results
/// drawn from the buffer pool, against the triple loop: a broadcast batch, awkward sizes, one
/// row (SGEMV), an empty sum (k = 0), 1 and 2 threads.
@Test(arguments: [(3, 197, 64, 197), (2, 7, 1, 127), (4, 5, 9, 3), (1, 13, 300, 17), (2, 6, 0, 5), (3, 1, 33, 40)])
func batchedMatMulMatchesTheTripleLoop(_ size: (Int, Int, Int, Int)) throws {
    let (heads, m, k, n) = size
    let a = pseudoRandom(heads * m * k, seed: 201), b = pseudoRandom(k * n, seed: 202)
    var expected = [Float](repeating: 0, count: heads * m * n)
    for h in 0..<heads {
        var c = [Float](repeating: 0, count: m * n)
        GemmKernel.referenceGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: Array(a[(h * m * k)..<((h + 1) * m * k)]),
                                 lda: max(k, 1), b: b, ldb: n, beta: 0, c: &c, ldc: n)
        expected.replaceSubrange((h * m * n)..<((h + 1) * m * n), with: c)
    }
    // B broadcast over the heads: [1, K, N] against A [heads, M, K].
    let results = try [1, 2].map { threads in
        try Parallel.withThreads(threads) { try MatMul().run([t([1, heads, m, k], a), t([1, 1, k, n], b)])[0] }
    }
    #expect(results[0].shape == [1, heads, m, n])
    expectClose(try results[0].floats(), expected, "batched MatMul \(size)")
    #expect(try results[0].floats() == results[1].floats(), "1 vs 2 threads differ for \(size)")
}
