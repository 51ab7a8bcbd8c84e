import CManakoSIMD
/// Joins tensors along `axis` (ONNX Concat); all other dimensions must agree.
public struct Concat: Operator {
    public var axis: Int
    /// A per-channel y = activation(x * multiplier + offset) applied while copying (a following
    /// BatchNormalization fused at load: DenseNet's Concat -> BatchNormalization -> ReLU).
    public var channelAffine: ChannelAffine?

    public struct ChannelAffine: Sendable {
        public var multiplier: [Float]
        public var offset: [Float]
        public var activation: FusedActivation

        public init(multiplier: [Float], offset: [Float], activation: FusedActivation) {
            self.multiplier = multiplier
            self.offset = offset
            self.activation = activation
        }
    }

    public init(axis: Int) { self.axis = axis }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw ManakoError(.invalidModel, "Concat has no inputs") }
        let a = try normalizedAxis(axis, rank: first.rank)
        var shape = first.shape
        shape[a] = 0
        for p in parts {
            guard p.rank == first.rank, p.elementType == first.elementType,
                  (0..<p.rank).allSatisfy({ $0 == a || p.shape[$0] == first.shape[$0] }) else {
                throw ManakoError(.shapeMismatch, "cannot concatenate \(first) and \(p) on axis \(axis)")
            }
            shape[a] += p.shape[a]
        }
        try ElementLimit.check(shape, "Concat output")
        let outer = first.shape[..<a].reduce(1, *)
        func join<T>(_ arrays: [[T]]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(shape.reduce(1, *))
            let chunks = parts.map { $0.shape[a...].reduce(1, *) }
            for o in 0..<outer {
                for (k, arr) in arrays.enumerated() { out.append(contentsOf: arr[(o * chunks[k])..<((o + 1) * chunks[k])]) }
            }
            return out
        }
        if let channelAffine {
            guard a == 1, first.elementType == .float32, shape[1] == channelAffine.multiplier.count else {
                throw ManakoError(.shapeMismatch, "a Concat with a fused BatchNormalization needs float channels on axis 1 "
                                  + "(\(channelAffine.multiplier.count) of them), got \(shape)")
            }
        }
        if first.elementType == .float32 {
            return [Tensor(shape: shape, floats: joinFloats(try parts.map { try $0.floats() }, outer: outer,
                                                           chunks: parts.map { $0.shape[a...].reduce(1, *) }))]
        }
        return [Tensor(shape: shape, int64s: join(try parts.map { try $0.int64s() }))]
    }
}

extension Concat {
    /// The float inputs' rows, interleaved into a pooled buffer (no fresh pages per run) with
    /// plain copies, or through `channelAffine`; large copies split across threads.
    func joinFloats(_ arrays: [[Float]], outer: Int, chunks: [Int]) -> [Float] {
        let rowLength = chunks.reduce(0, +)
        return BufferPool.floats(outer * rowLength) { out in
            let dst = out.baseAddress!
            var offset = 0
            for (k, array) in arrays.enumerated() {
                let chunk = chunks[k], start = offset, total = outer * chunk
                offset += chunk
                guard total > 0 else { continue }
                let large = total >= Parallel.elementwiseThreshold
                array.withUnsafeBufferPointer { source in
                    let src = source.baseAddress!
                    if let affine = channelAffine {
                        // Axis 1: channel planes of `spatial` floats; this input's first channel
                        // is `start / spatial` of the output's.
                        let channels = affine.multiplier.count, spatial = rowLength / channels, planes = chunk / spatial
                        affine.multiplier.withUnsafeBufferPointer { m in
                            affine.offset.withUnsafeBufferPointer { o in
                                Parallel.forEachPart(of: outer * planes, split: large) { items in
                                    for item in items {
                                        let row = item / planes, plane = item % planes, c = start / spatial + plane
                                        let scale = SIMD8<Float>(repeating: m[c]), shift = SIMD8<Float>(repeating: o[c])
                                        VectorMath.map(src + row * chunk + plane * spatial, count: spatial,
                                                       into: dst + row * rowLength + start + plane * spatial) {
                                            affine.activation.apply(mk_multiply_add($0, scale, shift))
                                        }
                                    }
                                }
                            }
                        }
                    } else if outer == 1 {
                        Parallel.forEachPart(of: total, split: large) { piece in
                            (dst + start + piece.lowerBound).initialize(from: src + piece.lowerBound, count: piece.count)
                        }
                    } else {
                        Parallel.forEachPart(of: outer, split: large) { rows in
                            for o in rows { (dst + o * rowLength + start).initialize(from: src + o * chunk, count: chunk) }
                        }
                    }
                }
            }
        }
    }

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        let shapes = inputs.compactMap { $0 }
        guard !shapes.isEmpty, shapes.allSatisfy({ $0.shape != nil }) else { return nil }
        let first = shapes[0].shape!
        let a = try normalizedAxis(axis, rank: first.count)
        var result = first
        for s in shapes.dropFirst().map({ $0.shape! }) {
            guard s.count == first.count else {
                throw ManakoError(.shapeMismatch, "cannot concatenate \(ShapeRules.describe(first)) and \(ShapeRules.describe(s))")
            }
            for d in 0..<s.count where d != a {
                if let x = result[d], let y = s[d], x != y {
                    throw ManakoError(.shapeMismatch, "cannot concatenate \(ShapeRules.describe(first)) and \(ShapeRules.describe(s)) on axis \(axis)")
                }
                result[d] = result[d] ?? s[d]
            }
            result[a] = result[a].flatMap { x in s[a].map { x + $0 } }
        }
        return [result]
    }
}
