/// softmax(scale · Q Kᵀ) V, the attention of transformers, as one node (`fuseAttention` builds
/// it at load from MatMul, Softmax, MatMul and the Transposes, Splits, Squeezes and scalar
/// Muls around them). Each operand is a view of one input, so the heads are read where the
/// QKV projection wrote them and the output is written in the layout its reader wanted.
public struct Attention: Operator {
    /// A view of input `input` (see `ViewChain`).
    public struct Operand: Sendable, Equatable {
        public var input: Int
        public var view: ViewChain

        public init(input: Int, view: ViewChain = ViewChain()) {
            self.input = input
            self.view = view
        }

        func resolve(_ source: [Int]) throws -> (lengths: [Int], strides: [Int], offset: Int) {
            do { return try view.resolve(source) } catch let e as ManakoError { throw e.inContext("attention operand \(input)") }
        }

        /// The view as four axes [batch, heads, rows, columns]: missing leading axes of one,
        /// axes of one broadcast (stride 0).
        static func fourAxes(_ view: (lengths: [Int], strides: [Int], offset: Int), input: Int) throws -> (lengths: [Int], strides: [Int], offset: Int) {
            guard (2...4).contains(view.lengths.count) else {
                throw ManakoError(.shapeMismatch, "attention operand \(input) has rank \(view.lengths.count); 2 to 4 are supported")
            }
            let pad = 4 - view.lengths.count
            let lengths = Array(repeating: 1, count: pad) + view.lengths
            let strides = Array(repeating: 0, count: pad) + zip(view.lengths, view.strides).map { $0 == 1 ? 0 : $1 }
            return (lengths, strides, view.offset)
        }
    }

    public var query: Operand
    /// K read as [batch, heads, keys, depth] (the MatMul's Kᵀ with its last two axes swapped).
    public var key: Operand
    public var value: Operand
    /// Inputs holding scalar factors of the scores (multiplied, or divided by where `divides`).
    public var scaleInputs: [(input: Int, divides: Bool)]
    /// Whether the output is [batch, rows, heads, columns] (a Transpose of the product absorbed)
    /// rather than the product's own [batch, heads, rows, columns].
    public var headsAfterRows: Bool
    /// An input added to the scaled scores before the Softmax (Swin's relative position bias),
    /// broadcast to [batch, heads, queries, keys].
    public var biasInput: Int?

    public init(query: Operand, key: Operand, value: Operand, scaleInputs: [(input: Int, divides: Bool)], headsAfterRows: Bool,
                biasInput: Int? = nil) {
        self.query = query
        self.key = key
        self.value = value
        self.scaleInputs = scaleInputs
        self.headsAfterRows = headsAfterRows
        self.biasInput = biasInput
    }

    /// The output's axes as view axes (0 batch, 1 heads, 2 rows, 3 columns), before the
    /// leading ones a lower rank drops.
    var outputAxes: [Int] { headsAfterRows ? [0, 2, 1, 3] : [0, 1, 2, 3] }

    /// The product's four lengths (batch, heads, queries, value depth) from the operands',
    /// with broadcasting of batch and heads; nil entries where unknown.
    static func outputLengths(_ q: [Int?], _ k: [Int?], _ v: [Int?]) throws -> [Int?] {
        func broadcast(_ axis: Int) throws -> Int? {
            let known = [q[axis], k[axis], v[axis]].compactMap { $0 }.filter { $0 != 1 }
            guard Set(known).count <= 1 else {
                throw ManakoError(.shapeMismatch, "attention operands disagree on axis \(axis): \(q), \(k), \(v)")
            }
            return known.first ?? ([q[axis], k[axis], v[axis]].allSatisfy { $0 == 1 } ? 1 : nil)
        }
        if let a = q[3], let b = k[3], a != b { throw ManakoError(.shapeMismatch, "attention: query depth \(a) but key depth \(b)") }
        if let a = k[2], let b = v[2], a != b { throw ManakoError(.shapeMismatch, "attention: \(a) keys but \(b) values") }
        return [try broadcast(0), try broadcast(1), q[2], v[3]]
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let sources = try [query, key, value].map { operand in try inputs.required(operand.input, "attention operand \(operand.input)") }
        let views = try [query, key, value].enumerated().map { i, operand in try operand.resolve(sources[i].shape) }
        // A bias of higher rank widens the output as the Add did.
        let rank = max(views.map(\.lengths.count).max()!, biasInput.flatMap { inputs.count > $0 ? inputs[$0]?.rank : nil } ?? 0)
        var (q, k, v) = (try Operand.fourAxes(views[0], input: 0), try Operand.fourAxes(views[1], input: 1), try Operand.fourAxes(views[2], input: 2))
        // The MatMul read Kᵀ: K is the same view with its last two axes swapped.
        k.lengths.swapAt(2, 3)
        k.strides.swapAt(2, 3)
        let lengths = try Attention.outputLengths(q.lengths, k.lengths, v.lengths).map { $0! }
        let outputAxes = Array(self.outputAxes.suffix(headsAfterRows ? 4 : rank))
        guard !headsAfterRows || rank == 4 else {
            throw ManakoError(.shapeMismatch, "attention: the output's Transpose needs rank 4, got \(rank)")
        }
        var scale: Float = 1
        for (input, divides) in scaleInputs {
            let factor = try inputs.required(input, "attention scale")
            guard factor.count == 1, let x = try factor.floats().first else {
                throw ManakoError(.shapeMismatch, "attention scale must hold one value, got \(factor.shape)")
            }
            scale = divides ? scale / x : scale * x
        }
        let shape = AttentionKernel.Shape(batch: lengths[0], heads: lengths[1], queries: lengths[2], keys: k.lengths[2],
                                          depth: q.lengths[3], valueDepth: lengths[3])
        let outputShape = outputAxes.map { lengths[$0] }
        // Broadcast batches and heads multiply the packed keys and values too (one set per pair).
        let tile = PanelGemm.columnsPerTile
        try ElementLimit.check([shape.batch * shape.heads, (shape.keys + tile - 1) / tile * tile * shape.depth
                                + (shape.valueDepth + tile - 1) / tile * tile * shape.keys], "attention's packed keys and values")
        try ElementLimit.check(outputShape, "attention output")
        let dense = Tensor.strides(outputShape)
        var outputStrides = [0, 0, 0, 0]
        for (position, axis) in outputAxes.enumerated() { outputStrides[axis] = dense[position] }
        var biasStrides: [Int]? = nil
        let bias = try biasInput.map { try inputs.required($0, "attention bias") }
        if let bias {
            let scores = [lengths[0], lengths[1], lengths[2], k.lengths[2]]
            biasStrides = Attention.broadcastStrides(bias.shape, into: scores)
            // A bias that widens the scores (a batch of masks over one query batch, say) takes
            // the nodes' own route.
            if biasStrides == nil { return [try unfused(sources, views, scale: scale, bias: bias)] }
        }
        let data = try (sources + (bias.map { [$0] } ?? [])).map { try $0.floatValues() }
        // An empty operand is never read (no keys, or no depth); it still needs an address.
        var unread: Float = 0
        let y = BufferPool.floats(outputShape.reduce(1, *)) { out in
            withUnsafePointer(to: &unread) { placeholder in
            data[0].withUnsafeBufferPointer { qp in
                data[1].withUnsafeBufferPointer { kp in
                    data[2].withUnsafeBufferPointer { vp in
                        func at(_ buffer: UnsafeBufferPointer<Float>, _ offset: Int) -> UnsafePointer<Float> {
                            buffer.isEmpty ? placeholder : buffer.baseAddress! + offset
                        }
                        func run(_ biasView: AttentionKernel.View?) {
                            AttentionKernel.run(query: .init(base: at(qp, q.offset), strides: q.strides),
                                                key: .init(base: at(kp, k.offset), strides: k.strides),
                                                value: .init(base: at(vp, v.offset), strides: v.strides), scale: scale,
                                                bias: biasView, shape: shape, output: out.baseAddress!, outputStrides: outputStrides)
                        }
                        if let biasStrides {
                            data[3].withUnsafeBufferPointer { bp in run(.init(base: at(bp, 0), strides: biasStrides)) }
                        } else {
                            run(nil)
                        }
                    }
                }
            }
            }
        }
        return [Tensor(shape: outputShape, floats: y)]
    }

    /// Strides that read a dense tensor of `shape` as one of `target` (four axes) by
    /// broadcasting, or nil when it does not broadcast to exactly that shape.
    static func broadcastStrides(_ shape: [Int], into target: [Int]) -> [Int]? {
        guard shape.count <= target.count else { return nil }
        let padded = Array(repeating: 1, count: target.count - shape.count) + shape, dense = Tensor.strides(padded)
        guard zip(padded, target).allSatisfy({ $0 == $1 || $0 == 1 }) else { return nil }
        return padded.indices.map { padded[$0] == 1 ? 0 : dense[$0] }
    }

    /// The nodes this one replaced, run one by one on copies of the views (for a bias that
    /// broadcasts the scores to a larger shape).
    func unfused(_ sources: [Tensor], _ views: [(lengths: [Int], strides: [Int], offset: Int)], scale: Float, bias: Tensor) throws -> Tensor {
        let (q, kt, v) = (0, 1, 2)
        let copies = views.indices.map { sources[$0].view(offset: views[$0].offset, shape: views[$0].lengths, strides: views[$0].strides) }
        let scores = try Mul().run([try MatMul().run([copies[q], copies[kt]])[0], Tensor(scalar: scale)])[0]
        let weights = try Softmax(axis: -1, coerce2D: false).run([try Add().run([scores, bias])[0]])[0]
        let product = try MatMul().run([weights, copies[v]])[0]
        return headsAfterRows ? try Transpose(permutation: [0, 2, 1, 3]).run([product])[0] : product
    }

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        let sources = [query, key, value].map { inputs.count > $0.input ? inputs[$0.input]?.concreteShape : nil }
        // A bias may widen the output (or send it down the unfused route): not inferred.
        guard biasInput == nil, let q = sources[0], let k = sources[1], let v = sources[2] else { return nil }
        let views = try zip([query, key, value], [q, k, v]).map { try $0.resolve($1) }
        let four = try views.enumerated().map { try Operand.fourAxes($1, input: $0) }
        var keyLengths = four[1].lengths
        keyLengths.swapAt(2, 3)
        let lengths = try Attention.outputLengths(four[0].lengths, keyLengths, four[2].lengths)
        let rank = views.map(\.lengths.count).max()!
        return [Array(outputAxes.suffix(headsAfterRows ? 4 : rank)).map { lengths[$0] }]
    }
}

extension Attention: PlanDescribing {
    public func plan(_ inputs: [Tensor?]) -> String {
        "fused attention (scores kept in L1, heads read in place)"
    }
}
