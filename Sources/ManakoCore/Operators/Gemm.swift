/// Y = alpha * op(A) * op(B) + beta * C (ONNX Gemm); A and B are 2-D, C broadcasts to [M, N].
public struct Gemm: Operator {
    public var alpha: Float
    public var beta: Float
    public var transA: Bool
    public var transB: Bool

    public init(alpha: Float = 1, beta: Float = 1, transA: Bool = false, transB: Bool = false) {
        self.alpha = alpha
        self.beta = beta
        self.transA = transA
        self.transB = transB
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        guard a.rank == 2, b.rank == 2 else {
            throw ManakoError(.shapeMismatch, "A \(a.shape) and B \(b.shape) must be 2-D")
        }
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        guard k == kb else {
            throw ManakoError(.shapeMismatch, "inner dimensions differ: A \(a.shape) transA=\(transA), B \(b.shape) transB=\(transB)")
        }
        try ElementLimit.check([m, n], "Gemm output")
        var y = [Float](repeating: 0, count: m * n)
        var betaUsed: Float = 0
        if let c = inputs.optional(2), beta != 0 {
            let cData = try c.floats()
            let outShape = try Broadcast.shape(c.shape, [m, n])
            guard outShape == [m, n] else {
                throw ManakoError(.shapeMismatch, "C \(c.shape) does not broadcast to [\(m), \(n)]")
            }
            let map = Broadcast.indexMap(from: c.shape, to: [m, n])
            for i in 0..<(m * n) { y[i] = cData[map[i]] }
            betaUsed = beta
        }
        let aData = try a.floats(), bData = try b.floats()
        aData.withUnsafeBufferPointer { ap in
            bData.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    GemmKernel.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                     a: ap.baseAddress!, lda: a.shape[1], b: bp.baseAddress!, ldb: b.shape[1],
                                     beta: betaUsed, c: yp.baseAddress!, ldc: n)
                }
            }
        }
        return [Tensor(shape: [m, n], floats: y)]
    }
}

extension Gemm {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard inputs.count > 1, let a = inputs[0]?.shape, let b = inputs[1]?.shape else { return nil }
        guard a.count == 2, b.count == 2 else {
            throw ManakoError(.shapeMismatch, "A \(ShapeRules.describe(a)) and B \(ShapeRules.describe(b)) must be 2-D")
        }
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        if let k, let kb, k != kb {
            throw ManakoError(.shapeMismatch, "inner dimensions differ: A \(ShapeRules.describe(a)) transA=\(transA), B \(ShapeRules.describe(b)) transB=\(transB)")
        }
        return [[m, n]]
    }
}
