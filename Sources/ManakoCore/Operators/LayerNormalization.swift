/// Layer normalisation over the axes from `axis` on (ONNX LayerNormalization, opset 17):
/// y = (x - mean) / sqrt(variance + epsilon) * scale + bias; optional Mean and InvStdDev outputs.
public struct LayerNormalization: Operator {
    public var axis: Int
    public var epsilon: Float

    public init(axis: Int = -1, epsilon: Float = 1e-5) {
        self.axis = axis
        self.epsilon = epsilon
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), scale = try inputs.required(1, "Scale")
        let a = try normalizedAxis(axis, rank: x.rank)
        let inner = x.shape[a...].reduce(1, *), outer = x.shape[..<a].reduce(1, *)
        let normalizedShape = Array(x.shape[a...])
        let s = try broadcastTo(scale, normalizedShape, "Scale")
        let b = try inputs.optional(2).map { try broadcastTo($0, normalizedShape, "B") }
        var data = try x.floats()
        var means = [Float](repeating: 0, count: outer), inverse = [Float](repeating: 0, count: outer)
        let shift = b ?? [Float](repeating: 0, count: inner)
        var centred = [Float](repeating: 0, count: inner)
        if inner > 0 { data.withUnsafeMutableBufferPointer { buffer in
            for o in 0..<outer {
                let row = buffer.baseAddress! + o * inner
                let mean = VectorMath.sum(row, count: inner) / Float(inner)
                for i in 0..<inner { centred[i] = (row[i] - mean) * (row[i] - mean) }
                let variance = centred.withUnsafeBufferPointer { VectorMath.sum($0.baseAddress!, count: inner) } / Float(inner)
                let inv = 1 / CMath.sqrt(variance + epsilon)
                for i in 0..<inner { row[i] = (row[i] - mean) * inv * s[i] + shift[i] }
                means[o] = mean
                inverse[o] = inv
            }
        } }
        let statsShape = Array(x.shape[..<a]) + Array(repeating: 1, count: x.rank - a)
        return [Tensor(shape: x.shape, floats: data), Tensor(shape: statsShape, floats: means), Tensor(shape: statsShape, floats: inverse)]
    }

    private func broadcastTo(_ t: Tensor, _ shape: [Int], _ what: String) throws -> [Float] {
        let values = try t.floats()
        guard try Broadcast.shape(t.shape, shape) == shape else { throw ManakoError(.shapeMismatch, "\(what) \(t.shape) does not broadcast to \(shape)") }
        return Broadcast.indexMap(from: t.shape, to: shape).map { values[$0] }
    }
}

extension LayerNormalization: ShapePreserving {}
