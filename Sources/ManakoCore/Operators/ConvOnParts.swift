/// A 1x1 convolution whose X is a Concat on channels, fused at load
/// (`GraphOptimizer.fuseConcatsIntoPointwiseConvs`): the GEMM packs its B operand from the parts
/// where they are, through the Concat's BatchNormalization and activation if it had one, so the
/// joined tensor is never written (DenseNet copies every earlier feature map once per layer).
extension Conv {
    /// X's parts: input 0, then inputs 4 ..< 3 + inputParts (3 is the residual's place).
    static func partIndex(_ part: Int) -> Int { part == 0 ? 0 : 3 + part }

    /// `inputs` with the parts' shapes joined into one X fact (channels summed) and the parts dropped.
    func joinedParts(_ inputs: [ShapeFact?]) -> [ShapeFact?] {
        var joined = Array(inputs.prefix(4))
        let shapes = (0..<inputParts).map { Conv.partIndex($0) < inputs.count ? inputs[Conv.partIndex($0)]?.shape : nil }
        guard let first = shapes[0] ?? nil, first.count == 4, shapes.allSatisfy({ ($0 ?? nil)?.count == 4 }) else {
            if !joined.isEmpty { joined[0] = nil }
            return joined
        }
        let channels = shapes.reduce(Optional(0)) { sum, shape in sum.flatMap { s in (shape ?? nil)?[1].map { s + $0 } } }
        joined[0] = ShapeFact(shape: [first[0], channels, first[2], first[3]])
        return joined
    }

    /// The parts' channels joined, after checking that they agree on batch and plane and that W
    /// and the Concat's BatchNormalization (if any) have that many channels (shared by the
    /// blocked form, `BlockedConv.runOnParts`).
    func joinedChannels(_ parts: [Tensor], weightShape wShape: [Int]) throws -> Int {
        let first = parts[0]
        guard parts.allSatisfy({ $0.rank == 4 && $0.shape[0] == first.shape[0] && $0.shape[2] == first.shape[2] && $0.shape[3] == first.shape[3] }) else {
            throw ManakoError(.shapeMismatch, "cannot concatenate \(parts.map(\.shape)) on axis 1")
        }
        let channels = parts.reduce(0) { $0 + $1.shape[1] }
        guard channels == wShape[1] else {
            throw ManakoError(.shapeMismatch, "the joined X has \(channels) channels but W \(wShape) expects \(wShape[1])")
        }
        if let inputAffine, inputAffine.multiplier.count != channels || inputAffine.offset.count != channels {
            throw ManakoError(.shapeMismatch, "the Concat's BatchNormalization has \(inputAffine.multiplier.count) channels, the joined X \(channels)")
        }
        return channels
    }

    /// y = activation(W affine(concat(parts)) + bias), image by image (the fold never takes a
    /// convolution that adds a residual).
    func runOnParts(_ inputs: [Tensor?]) throws -> [Tensor] {
        let parts = try (0..<inputParts).map { try inputs.required(Conv.partIndex($0), "X part \($0)") }
        let w = inputs.count > 1 ? inputs[1] : nil
        guard let wShape = w?.shape ?? weightShape, wShape.count == 4, wShape[2] == 1, wShape[3] == 1, group == 1 else {
            throw ManakoError(.invalidModel, "a convolution reading a joined Concat must be 1x1 with one group, got W \(w?.shape ?? weightShape ?? [])")
        }
        let first = parts[0]
        let channels = try joinedChannels(parts, weightShape: wShape)
        let g = try WindowGeometry.make(input: [first.shape[0], channels, first.shape[2], first.shape[3]], kernel: [1, 1], strides: strides,
                                        dilations: dilations, pads: pads, autoPad: autoPad)
        guard g.outHeight == g.inHeight, g.outWidth == g.inWidth, g.padTop == 0, g.padLeft == 0 else {
            throw ManakoError(.invalidModel, "a convolution reading a joined Concat must have stride 1 and no padding")
        }
        let m = wShape[0], spatial = g.inHeight * g.inWidth
        let shape = g.outputShape(channels: m, spatialRank: 2)
        try ElementLimit.check(shape, "Conv output")
        let bias = try inputs.optional(2)?.floats()
        if let bias, bias.count != m { throw ManakoError(.shapeMismatch, "B has \(bias.count) elements, W has \(m) filters") }
        if addsResidual { throw ManakoError(.internal, "a convolution reading a joined Concat cannot add a residual") }
        guard let weights = try packedWeights?.first ?? w.map({ w in
            try w.floats().withUnsafeBufferPointer { PanelGemm.PackedA($0.baseAddress!, rows: m, depth: channels, rowStride: channels) }
        }) else { throw ManakoError(.internal, "the convolution's weights were dropped at load for other input shapes") }
        let values = try parts.map { try $0.floats() }
        let y = BufferPool.floats(g.batch * m * spatial) { out in
            Conv.withPointers(values) { sources in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: channels) { rows in
                    bias.withOptionalPointer { biasPointer in
                        (inputAffine?.multiplier).withOptionalPointer { scale in
                            (inputAffine?.offset).withOptionalPointer { shift in
                                let source = PanelGemm.RowSource(rows: UnsafePointer(rows.baseAddress!), scale: scale, shift: shift,
                                                                 activation: inputAffine?.activation ?? .none)
                                for image in 0..<g.batch {
                                    var row = 0
                                    for (part, base) in zip(parts, sources) {
                                        let c = part.shape[1]
                                        for channel in 0..<c { rows[row + channel] = base! + (image * c + channel) * spatial }
                                        row += c
                                    }
                                    let offset = image * m * spatial
                                    PanelGemm.multiply(weights, rows: source, columns: spatial, bias: biasPointer, residual: nil,
                                                       activation: activation, into: out.baseAddress! + offset)
                                }
                            }
                        }
                    }
                }
            }
        }
        return [Tensor(shape: shape, floats: y)]
    }

    /// Runs `body` with a base pointer for each array, nil for an empty one (all valid during the call).
    static func withPointers<R, Floats: ContiguousFloats>(_ arrays: [Floats], _ body: ([UnsafePointer<Float>?]) -> R) -> R {
        func nest(_ index: Int, _ pointers: [UnsafePointer<Float>?]) -> R {
            guard index < arrays.count else { return body(pointers) }
            return arrays[index].withUnsafeFloats { nest(index + 1, pointers + [$0.baseAddress]) }
        }
        return nest(0, [])
    }
}
