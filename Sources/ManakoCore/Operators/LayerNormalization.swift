import CManakoSIMD

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
        let input = try x.floatValues()
        var means = [Float](repeating: 0, count: outer), inverse = [Float](repeating: 0, count: outer)
        let output = BufferPool.floats(x.count) { out in
            input.withUnsafeBufferPointer { xp in s.withUnsafeBufferPointer { sp in (b ?? .array([])).withUnsafeBufferPointer { bp in
                means.withUnsafeMutableBufferPointer { mp in inverse.withUnsafeMutableBufferPointer { ip in
                    // Rows are independent: the same bits for any thread count.
                    Parallel.forEachPart(of: outer, split: x.count >= Parallel.elementwiseThreshold) { rows in
                        for o in rows {
                            (mp[o], ip[o]) = LayerNormalization.normalizeRow(xp.baseAddress! + o * inner, count: inner, epsilon: epsilon,
                                                                              scale: sp.baseAddress!, bias: b == nil ? nil : bp.baseAddress,
                                                                              into: out.baseAddress! + o * inner)
                        }
                    }
                } }
            } } }
        }
        let statsShape = Array(x.shape[..<a]) + Array(repeating: 1, count: x.rank - a)
        return [Tensor(shape: x.shape, floats: output), Tensor(shape: statsShape, floats: means), Tensor(shape: statsShape, floats: inverse)]
    }

    /// One row: its mean, then the variance about it (two passes, as exact as the data allows),
    /// then (x - mean) / sqrt(variance + epsilon) * scale + bias, eight lanes at a time, the
    /// sums in one fixed order. Returns the mean and 1 / sqrt(variance + epsilon). `n` >= 1.
    @inline(__always)
    static func normalizeRow(_ row: UnsafePointer<Float>, count n: Int, epsilon: Float, scale: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>?, into target: UnsafeMutablePointer<Float>) -> (Float, Float) {
        let mean = VectorMath.sum(row, count: n) / Float(n), m = SIMD8<Float>(repeating: mean)
        // Four chains of squares, as in `VectorMath.sum` (one waits on the last add at every step).
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>(), i = 0
        let raw = UnsafeRawPointer(row)
        @inline(__always) func square(_ offset: Int, _ sums: inout SIMD8<Float>) {
            let d = raw.loadUnaligned(fromByteOffset: offset * 4, as: SIMD8<Float>.self) - m
            sums = mk_multiply_add(d, d, sums)
        }
        while i + 32 <= n {
            square(i, &s0)
            square(i + 8, &s1)
            square(i + 16, &s2)
            square(i + 24, &s3)
            i += 32
        }
        while i + 8 <= n {
            square(i, &s0)
            i += 8
        }
        var squares = ((s0 + s1) + (s2 + s3)).sum()
        while i < n { squares += (row[i] - mean) * (row[i] - mean); i += 1 }
        let inv = 1 / CMath.sqrt(squares / Float(n) + epsilon), f = SIMD8<Float>(repeating: inv)
        i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self), w = UnsafeRawPointer(scale + i).loadUnaligned(as: SIMD8<Float>.self)
            var y = (v - m) * f * w
            if let bias { y += UnsafeRawPointer(bias + i).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(target + i).storeBytes(of: y, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            target[i] = (row[i] - mean) * inv * scale[i] + (bias?[i] ?? 0)
            i += 1
        }
        return (mean, inv)
    }

    private func broadcastTo(_ t: Tensor, _ shape: [Int], _ what: String) throws -> FloatValues {
        if t.shape == shape { return try t.floatValues() }
        let values = try t.floats()
        guard try Broadcast.shape(t.shape, shape) == shape else { throw ManakoError(.shapeMismatch, "\(what) \(t.shape) does not broadcast to \(shape)") }
        return .array(Broadcast.indexMap(from: t.shape, to: shape).map { values[$0] })
    }
}

extension LayerNormalization: ShapePreserving {}
