/// Permutes axes (ONNX Transpose); the default permutation reverses them. Any element type.
public struct Transpose: Operator {
    public var permutation: [Int]?

    public init(permutation: [Int]? = nil) { self.permutation = permutation }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let perm = try (permutation ?? Array((0..<x.rank).reversed())).map { try normalizedAxis($0, rank: x.rank) }
        guard perm.count == x.rank, Set(perm).count == x.rank else {
            throw ManakoError(.invalidModel, "perm \(permutation ?? []) is not a permutation of \(x.rank) axes")
        }
        let outShape = perm.map { x.shape[$0] }
        let inStrides = Tensor.strides(x.shape)
        let strides = perm.map { inStrides[$0] }
        if case .float32(let values) = x.storage, let inner = outShape.last, inner > 0, x.count > 0 {
            return [Tensor(shape: outShape, floats: Transpose.copyFloats(values, outShape: outShape, strides: strides, inner: inner))]
        }
        var indices: [Int] = []
        indices.reserveCapacity(x.count)
        Tensor.forEachIndex(outShape) { index in
            var flat = 0
            for d in 0..<index.count { flat += index[d] * strides[d] }
            indices.append(flat)
        }
        return [x.picking(indices, shape: outShape)]
    }

    /// Float32 fast path: walk the output row by row; each row reads the input with one stride
    /// (a plain copy when the last axis stays last). Large tensors split their rows across
    /// threads, each part finding its own starting position.
    static func copyFloats(_ values: [Float], outShape: [Int], strides: [Int], inner: Int) -> [Float] {
        let innerStride = strides.last!
        let outer = Array(outShape.dropLast()), outerStrides = Array(strides.dropLast())
        let rows = values.count / inner
        return BufferPool.floats(values.count) { dst in
            values.withUnsafeBufferPointer { src in
                Parallel.forEachPart(of: rows, split: values.count >= ElementwiseUnary.parallelThreshold) { part in
                    var index = [Int](repeating: 0, count: outer.count)
                    var base = 0, remainder = part.lowerBound
                    for d in stride(from: outer.count - 1, through: 0, by: -1) {
                        index[d] = remainder % outer[d]
                        remainder /= outer[d]
                        base += index[d] * outerStrides[d]
                    }
                    for row in part {
                        let target = dst.baseAddress! + row * inner
                        if innerStride == 1 {
                            target.initialize(from: src.baseAddress! + base, count: inner)
                        } else {
                            for k in 0..<inner { (target + k).initialize(to: src[base + k * innerStride]) }
                        }
                        var d = outer.count - 1
                        while d >= 0 {
                            index[d] += 1
                            base += outerStrides[d]
                            if index[d] < outer[d] { break }
                            base -= outerStrides[d] * outer[d]
                            index[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }
}

extension Transpose {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let x = inputs.first??.shape else { return nil }
        let perm = try (permutation ?? Array((0..<x.count).reversed())).map { try normalizedAxis($0, rank: x.count) }
        guard perm.count == x.count else { throw ManakoError(.invalidModel, "perm \(perm) does not match rank \(x.count)") }
        return [perm.map { x[$0] }]
    }
}
