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
        let inStrides = Tensor.strides(x.shape)
        return [x.view(offset: 0, shape: perm.map { x.shape[$0] }, strides: perm.map { inStrides[$0] })]
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
