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

        func resolve(_ source: [Int]) throws -> StridedView {
            do { return try view.resolve(source) } catch let e as ManakoError { throw e.inContext("attention operand \(input)") }
        }
    }

    /// Lengths, strides and first element of a view.
    typealias StridedView = (lengths: [Int], strides: [Int], offset: Int)

    /// `view` padded with leading axes of one to `rank` axes, each axis of one given stride 0
    /// so that it broadcasts.
    static func broadcasting(_ view: StridedView, toRank rank: Int) -> StridedView {
        let pad = rank - view.lengths.count
        return (Array(repeating: 1, count: pad) + view.lengths,
                Array(repeating: 0, count: pad) + zip(view.lengths, view.strides).map { $0 == 1 ? 0 : $1 }, view.offset)
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

    /// Only this query row is read downstream (`fuseGatheredRowRegions`: the output goes through
    /// a Reshape, whose requested shape is input `shapeInput`, into a region that runs on one
    /// row): the other rows are written as zeros. Taken on a run only when that Reshape keeps
    /// the batch and row axes ([batch, rows, heads, columns] to [batch, rows, heads x columns]),
    /// so the region's row t is this output's row t; otherwise every row is computed.
    public var onlyQueryRow: (row: Int, shapeInput: Int, allowZero: Bool)?

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

    /// Where the operands and the output lie for given input shapes.
    struct Geometry {
        /// Q, K (read as [batch, heads, keys, depth]) and V as four broadcasting axes.
        var query, key, value: StridedView
        /// The operands' views at their own ranks.
        var views: [StridedView]
        /// The product's four lengths: batch, heads, queries, value depth.
        var lengths: [Int]
        /// The output's shape, and which of the four axes each of its axes is.
        var outputShape: [Int], outputAxes: [Int]
    }

    /// The geometry for operand inputs of `shapes` (query, key, value), and a bias of
    /// `biasRank` (a higher rank widens the output, as the Add did).
    func geometry(_ shapes: [[Int]], biasRank: Int) throws -> Geometry {
        let views = try zip([query, key, value], shapes).map { try $0.resolve($1) }
        let four = try views.enumerated().map { operand, view in
            guard (2...4).contains(view.lengths.count) else {
                throw ManakoError(.shapeMismatch, "attention operand \(operand) has rank \(view.lengths.count); 2 to 4 are supported")
            }
            return Attention.broadcasting(view, toRank: 4)
        }
        let (q, v) = (four[0], four[2])
        // The MatMul read Kᵀ: K is the same view with its last two axes swapped.
        var k = four[1]
        k.lengths.swapAt(2, 3)
        k.strides.swapAt(2, 3)
        func broadcast(_ axis: Int) throws -> Int {
            let lengths = Set([q.lengths[axis], k.lengths[axis], v.lengths[axis]]).subtracting([1])
            guard lengths.count <= 1 else {
                throw ManakoError(.shapeMismatch, "attention operands disagree on axis \(axis): \(q.lengths), \(k.lengths), \(v.lengths)")
            }
            return lengths.first ?? 1
        }
        guard q.lengths[3] == k.lengths[3] else {
            throw ManakoError(.shapeMismatch, "attention: query depth \(q.lengths[3]) but key depth \(k.lengths[3])")
        }
        guard k.lengths[2] == v.lengths[2] else {
            throw ManakoError(.shapeMismatch, "attention: \(k.lengths[2]) keys but \(v.lengths[2]) values")
        }
        let lengths = [try broadcast(0), try broadcast(1), q.lengths[2], v.lengths[3]]
        let rank = max(views.map(\.lengths.count).max()!, biasRank)
        guard !headsAfterRows || rank == 4 else {
            throw ManakoError(.shapeMismatch, "attention: the output's Transpose needs rank 4, got \(rank)")
        }
        let axes = Array(outputAxes.suffix(headsAfterRows ? 4 : rank))
        return Geometry(query: q, key: k, value: v, views: views, lengths: lengths, outputShape: axes.map { lengths[$0] }, outputAxes: axes)
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let sources = try [query, key, value].map { operand in try inputs.required(operand.input, "attention operand \(operand.input)") }
        let bias = try biasInput.map { try inputs.required($0, "attention bias") }
        let g = try geometry(sources.map(\.shape), biasRank: bias?.rank ?? 0)
        let (q, k, v, lengths, outputShape) = (g.query, g.key, g.value, g.lengths, g.outputShape)
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
        // Broadcast batches and heads multiply the packed keys and values too (one set per pair).
        let tile = PanelGemm.columnsPerTile
        try ElementLimit.check([shape.batch * shape.heads, (shape.keys + tile - 1) / tile * tile * shape.depth
                                + (shape.valueDepth + tile - 1) / tile * tile * shape.keys], "attention's packed keys and values")
        try ElementLimit.check(outputShape, "attention output")
        let dense = Tensor.strides(outputShape)
        var outputStrides = [0, 0, 0, 0]
        for (position, axis) in g.outputAxes.enumerated() { outputStrides[axis] = dense[position] }
        var biasStrides: [Int]? = nil
        if let bias {
            let scores = [lengths[0], lengths[1], lengths[2], k.lengths[2]]
            biasStrides = Attention.broadcastStrides(bias.shape, into: scores)
            // A bias that widens the scores (a batch of masks over one query batch, say) takes
            // the nodes' own route.
            if biasStrides == nil { return [try unfused(sources, g.views, scale: scale, bias: bias)] }
        }
        let row = try queryRow(inputs, outputShape: outputShape)
        // With one row read downstream: its query, its bias row and its output row alone.
        var rows = shape
        if row != nil { rows.queries = 1 }
        let first = row ?? 0
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
                            if row != nil { out.initialize(repeating: 0) }
                            AttentionKernel.run(query: .init(base: at(qp, q.offset) + first * q.strides[2], strides: q.strides),
                                                key: .init(base: at(kp, k.offset), strides: k.strides),
                                                value: .init(base: at(vp, v.offset), strides: v.strides), scale: scale,
                                                bias: biasView.map { .init(base: $0.base + first * $0.strides[2], strides: $0.strides) },
                                                shape: rows, output: out.baseAddress! + first * outputStrides[2], outputStrides: outputStrides)
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
        if BufferPool.isSizing { BufferPool.reserveScratch(floats: AttentionKernel.poolScratch(rows)) }
        return [Tensor(shape: outputShape, floats: y)]
    }

    /// The one query row to compute (see `onlyQueryRow`), or nil for every row: nil unless the
    /// downstream Reshape turns this `outputShape` ([batch, rows, heads, columns]) into
    /// [batch, rows, heads x columns] and the row lies in 0..<rows (counted from the end when
    /// negative; out of range, the Gather downstream reports it).
    public func queryRow(_ inputs: [Tensor?], outputShape: [Int]) throws -> Int? {
        guard let (row, shapeInput, allowZero) = onlyQueryRow, headsAfterRows, outputShape.count == 4,
              let requested = inputs.optional(shapeInput), requested.rank == 1 else { return nil }
        let rows = outputShape[1]
        guard rows > 1, -rows <= row, row < rows,
              let reshaped = try? Reshape.resolve(try requested.int64s().map { Int($0) }, input: outputShape, allowZero: allowZero),
              reshaped == [outputShape[0], rows, outputShape[2] * outputShape[3]] else { return nil }
        return row < 0 ? row + rows : row
    }

    /// Strides that read a dense tensor of `shape` as one of `target` by broadcasting, or nil
    /// when it does not broadcast to exactly that shape.
    static func broadcastStrides(_ shape: [Int], into target: [Int]) -> [Int]? {
        guard shape.count <= target.count else { return nil }
        let view = broadcasting((shape, Tensor.strides(shape), 0), toRank: target.count)
        return zip(view.lengths, target).allSatisfy({ $0 == $1 || $0 == 1 }) ? view.strides : nil
    }

    /// The nodes this one replaced, run one by one on copies of the views (for a bias that
    /// broadcasts the scores to a larger shape).
    func unfused(_ sources: [Tensor], _ views: [StridedView], scale: Float, bias: Tensor) throws -> Tensor {
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
        return [try geometry([q, k, v], biasRank: 0).outputShape]
    }
}

extension Attention: PlanDescribing {
    public func plan(_ inputs: [Tensor?]) -> String {
        let base = "fused attention (scores kept in L1, heads read in place)"
        guard onlyQueryRow != nil else { return base }
        let shapes = [query, key, value].compactMap { inputs.optional($0.input)?.shape }
        guard shapes.count == 3, let g = try? geometry(shapes, biasRank: biasInput.flatMap { inputs.optional($0)?.rank } ?? 0),
              let row = (try? queryRow(inputs, outputShape: g.outputShape)) ?? nil else { return base + ", every query row" }
        return base + ", query row \(row) alone"
    }
}
