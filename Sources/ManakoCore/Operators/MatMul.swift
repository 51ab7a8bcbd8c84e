/// Matrix product with numpy semantics (ONNX MatMul): 1-D operands are promoted and the
/// promoted axis removed; leading (batch) dimensions broadcast.
public struct MatMul: Operator, ActivationFusing {
    /// A constant 2-D B packed at load for `PackedBGemm` (then B itself is dropped).
    public var packedB: PackedBGemm.PackedB?
    /// A constant added to every row of the output (a bias Add fused at load; needs `packedB`).
    public var columnBias: [Float]?
    /// An activation applied to the output (fused at load; GELU after a transformer's fc1).
    public var activation: FusedActivation = .none
    /// Whether input 2 is a tensor added to the output before the activation (a residual Add
    /// fused at load, a transformer's shortcut; needs `packedB`): added in the GEMM's epilogue
    /// as each tile is stored, so neither the product nor the sum takes a pass of its own.
    public var addsResidual = false
    /// A LayerNormalization over A's last axis, fused at load (needs `packedB`): each range of
    /// rows is normalised into the GEMM's scratch just before its tiles read it, so the
    /// normalised A is never written out (a pre-norm transformer's qkv and fc1).
    public var inputNorm: InputNorm?

    /// y = (x - mean) / sqrt(variance + epsilon) * scale + bias per row, as `LayerNormalization`.
    public struct InputNorm: Sendable {
        public var epsilon: Float
        public var scale: [Float]
        public var bias: [Float]?
    }

    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try inputs.required(0, "A")
        if let packedB, a.rank >= 2, inputs.count < 2 || inputs[1] == nil || inputs[1]?.shape == [packedB.depth, packedB.columns] {
            return [try multiplyPacked(a, packedB, residual: addsResidual ? inputs.required(2, "residual") : nil)]
        }
        guard columnBias == nil, inputNorm == nil, !addsResidual else {
            throw ManakoError(.internal, "a fused MatMul bias, residual or normalisation needs the packed weights")
        }
        let b = try inputs.required(1, "B")
        guard a.rank >= 1, b.rank >= 1 else { throw ManakoError(.shapeMismatch, "MatMul needs operands of rank 1 or more, got \(a.shape) and \(b.shape)") }
        let aShape = a.rank == 1 ? [1] + a.shape : a.shape
        let bShape = b.rank == 1 ? b.shape + [1] : b.shape
        let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1]
        let kb = bShape[bShape.count - 2], n = bShape[bShape.count - 1]
        guard k == kb else { throw ManakoError(.shapeMismatch, "inner dimensions differ: \(a.shape) x \(b.shape)") }
        let batch = try Broadcast.shape(Array(aShape.dropLast(2)), Array(bShape.dropLast(2)))
        let batchCount = batch.reduce(1, *)
        try ElementLimit.check(batch + [m, n], "MatMul output")
        let aMap = Broadcast.indexMap(from: Array(aShape.dropLast(2)), to: batch)
        let bMap = Broadcast.indexMap(from: Array(bShape.dropLast(2)), to: batch)
        let aData = try a.floats(), bData = try b.floats()
        // From the run's pool: a fresh array would fault its pages in on every run (attention's
        // scores are 0.5 MB per layer). SGEMM with beta 0 writes every element; the one-row
        // path (SGEMV) and an empty sum are given zeros, as BLAS leaves what beta 0 does with
        // NaN to the library.
        var y = BufferPool.floats(batchCount * m * n) { yp in
            if m == 1 || k == 0 { yp.initialize(repeating: 0) }
        }
        aData.withUnsafeBufferPointer { ap in
            bData.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    // Batch items (attention heads) are independent products: one per work item
                    // when there are several, each on one thread; the same calls for any count.
                    let base = (a: ap.baseAddress!, b: bp.baseAddress!, y: yp.baseAddress!)
                    func product(_ i: Int) {
                        // (The panel GEMM with A packed per call was tried for attention's 197 x 64 x 197
                        // products: 5-7 % slower than OpenBLAS in a one-process A/B.)
                        GemmKernel.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: base.a + aMap[i] * m * k,
                                         lda: k, b: base.b + bMap[i] * k * n, ldb: n, beta: 0, c: base.y + i * m * n, ldc: n)
                    }
                    if batchCount == 1 {
                        product(0)
                    } else {
                        Parallel.forEach(batchCount) { i in Parallel.withThreads(1) { product(i) } }
                    }
                }
            }
        }
        activation.apply(&y)
        var shape = batch + [m, n]
        if a.rank == 1 { shape.remove(at: shape.count - 2) }
        if b.rank == 1 { shape.removeLast() }
        return [Tensor(shape: shape, floats: y)]
    }
}

extension MatMul {
    /// A [..., M, K] times the packed B [K, N]: the leading dimensions and M are one stack of rows.
    /// With `residual` (`addsResidual`) of the product's shape, added as each tile is stored; of
    /// another shape, added by the Add it replaced, with its broadcasting, and the activation after.
    func multiplyPacked(_ a: Tensor, _ b: PackedBGemm.PackedB, residual: Tensor? = nil) throws -> Tensor {
        guard a.shape.last == b.depth else {
            throw ManakoError(.shapeMismatch, "inner dimensions differ: \(a.shape) x [\(b.depth), \(b.columns)]")
        }
        let shape = Array(a.shape.dropLast()) + [b.columns]
        if let residual, residual.shape != shape {
            var product = self
            (product.addsResidual, product.activation) = (false, .none)
            var sum = try Add().run([product.multiplyPacked(a, b), residual])[0]
            if activation != .none {
                var values = try sum.floats()
                activation.apply(&values)
                sum = Tensor(shape: sum.shape, floats: values)
            }
            return sum
        }
        try ElementLimit.check(shape, "MatMul output")
        let rows = a.shape.dropLast().reduce(1, *)
        let aData = try a.floats(), residualData = try residual?.floats()
        let y = BufferPool.floats(rows * b.columns) { out in
            aData.withUnsafeBufferPointer { x in
                columnBias.withOptionalPointer { bias in
                    residualData.withOptionalPointer { shortcut in
                        func multiply(prepareRows: ((Int, Int, UnsafeMutablePointer<Float>) -> Void)?) {
                            PackedBGemm.multiply(x.baseAddress!, rows: rows, b, columnBias: bias, residual: shortcut, activation: activation,
                                                 into: out.baseAddress!, prepareRows: prepareRows)
                        }
                        guard let norm = inputNorm else { return multiply(prepareRows: nil) }
                        norm.scale.withUnsafeBufferPointer { scale in
                            norm.bias.withOptionalPointer { shift in
                                multiply { first, count, target in
                                    for row in 0..<count {
                                        _ = LayerNormalization.normalizeRow(x.baseAddress! + (first + row) * b.depth, count: b.depth,
                                                                            epsilon: norm.epsilon, scale: scale.baseAddress!, bias: shift,
                                                                            into: target + row * b.depth)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, floats: y)
    }

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        let packedShape: [Int?]? = packedB.map { [$0.depth, $0.columns] }
        guard let a = inputs.first??.shape, let b = (inputs.count > 1 ? inputs[1]?.shape : nil) ?? packedShape,
              !a.isEmpty, !b.isEmpty else { return nil }
        let a2 = a.count == 1 ? [1] + a : a, b2 = b.count == 1 ? b + [1] : b
        if let k = a2.last!, let kb = b2[b2.count - 2], k != kb {
            throw ManakoError(.shapeMismatch, "inner dimensions differ: \(ShapeRules.describe(a)) x \(ShapeRules.describe(b))")
        }
        var shape = try ShapeRules.broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))) + [a2[a2.count - 2], b2.last!]
        if a.count == 1 { shape.remove(at: shape.count - 2) }
        if b.count == 1 { shape.removeLast() }
        guard addsResidual else { return [shape] }
        // The fused Add's broadcast with the residual (of the product's shape but in rare graphs).
        guard inputs.count > 2, let residual = inputs[2]?.shape else { return nil }
        return [try ShapeRules.broadcast(shape, residual)]
    }
}
