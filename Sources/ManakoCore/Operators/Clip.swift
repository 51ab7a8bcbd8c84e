/// Clamps x to [min, max] elementwise (ONNX Clip). Bounds come from inputs 1 and 2 (opset 11+)
/// or, for older opsets, from the attributes the importer passes as `defaultMin`/`defaultMax`.
public struct Clip: Operator {
    public var defaultMin: Float
    public var defaultMax: Float

    public init(min: Float = -.infinity, max: Float = .infinity) {
        self.defaultMin = min
        self.defaultMax = max
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        func bound(_ i: Int, _ fallback: Float) throws -> Float {
            guard let t = inputs.optional(i) else { return fallback }
            let v = try t.floats()
            guard v.count == 1 else { throw ManakoError(.shapeMismatch, "Clip bound must be a scalar, got shape \(t.shape)") }
            return v[0]
        }
        let lo = try bound(1, defaultMin), hi = try bound(2, defaultMax)
        let low = SIMD8<Float>(repeating: lo), high = SIMD8<Float>(repeating: hi)
        return try ElementwiseUnary.apply([x], chunks: {
            VectorMath.map($0, count: $1, into: $2) { v in
                // In this order, so lo > hi gives hi everywhere, as min(max(x, lo), hi) does.
                let raised = v.replacing(with: low, where: v .< low)
                return raised.replacing(with: high, where: raised .> high)
            }
        })
    }
}

extension Clip: ShapePreserving {}
