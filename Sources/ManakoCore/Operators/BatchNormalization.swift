import CManakoSIMD
/// Inference-mode batch normalisation (ONNX BatchNormalization), NC...:
/// y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c].
public struct BatchNormalization: Operator, ActivationFusing {
    public var epsilon: Float
    /// An activation applied to the output in place (fused at load: DenseNet's BN-ReLU).
    public var activation: FusedActivation = .none

    public init(epsilon: Float = 1e-5) { self.epsilon = epsilon }

    /// Per-channel multiplier and offset equivalent to the normalisation (also used to fold it).
    public static func affine(scale: [Float], bias: [Float], mean: [Float], variance: [Float], epsilon: Float) -> ([Float], [Float]) {
        let multiplier = (0..<scale.count).map { scale[$0] / CMath.sqrt(variance[$0] + epsilon) }
        return (multiplier, (0..<scale.count).map { bias[$0] - mean[$0] * multiplier[$0] })
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let parameters = try (1...4).map { try inputs.required($0, "scale, B, mean, var").floats() }
        guard x.rank >= 2 else { throw ManakoError(.shapeMismatch, "X must have a channel axis, got \(x.shape)") }
        let channels = x.shape[1]
        guard parameters.allSatisfy({ $0.count == channels }) else {
            throw ManakoError(.shapeMismatch, "scale, B, mean and var must have \(channels) elements")
        }
        let (multiplier, offset) = BatchNormalization.affine(scale: parameters[0], bias: parameters[1], mean: parameters[2],
                                                             variance: parameters[3], epsilon: epsilon)
        let inner = x.shape.dropFirst(2).reduce(1, *)
        let input = try x.floatValues()
        let activation = self.activation
        // Read in place and written to a new buffer: mutating X would first copy it whole.
        let output = BufferPool.floats(input.count) { out in
            input.withUnsafeBufferPointer { source in
                let parts = Parallel.ranges(source.count / max(inner, 1))
                Parallel.forEach(parts.count) { part in
                    for plane in parts[part] {
                        let c = plane % channels
                        let m = SIMD8<Float>(repeating: multiplier[c]), o = SIMD8<Float>(repeating: offset[c])
                        VectorMath.map(source.baseAddress! + plane * inner, count: inner, into: out.baseAddress! + plane * inner) {
                            activation.apply(mk_multiply_add($0, m, o))
                        }
                    }
                }
            }
        }
        return [Tensor(shape: x.shape, floats: output)]
    }
}

extension BatchNormalization {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let x = inputs.first??.shape, x.count >= 2 else { return nil }
        if let c = x[1] {
            for i in 1..<min(inputs.count, 5) {
                if let p = inputs[i]?.concreteShape, p != [c] {
                    throw ManakoError(.shapeMismatch, "X has \(c) channels but parameter \(i) has shape \(p)")
                }
            }
        }
        return [x]
    }
}
