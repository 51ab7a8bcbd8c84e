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

/// OpenBLAS SGEMM against the triple-loop twin on awkward sizes and transpositions.
@Test(arguments: [(1, 1, 1), (7, 1, 127), (127, 7, 1), (1001, 3, 7), (13, 17, 19)])
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
                    GemmKernel.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: ta ? m : k,
                                     b: bp.baseAddress!, ldb: tb ? k : n, beta: 2, c: cp.baseAddress!, ldc: n)
                }
            }
        }
        expectClose(actual, expected, "sgemm \(size) \(ta) \(tb)")
    }
}
