/// Softmax (ONNX Softmax). From opset 13 it normalises along `axis` alone; before that
/// (`coerce2D`) it normalises over all dimensions from `axis` on, as one flattened row.
public struct Softmax: Operator {
    public var axis: Int
    public var coerce2D: Bool

    public init(axis: Int, coerce2D: Bool) {
        self.axis = axis
        self.coerce2D = coerce2D
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let a = try normalizedAxis(axis, rank: x.rank)
        let outer = x.shape[..<a].reduce(1, *)
        let length = coerce2D ? x.shape[a...].reduce(1, *) : x.shape[a]
        let inner = coerce2D ? 1 : x.shape[(a + 1)...].reduce(1, *)
        guard length > 0 else { return [x] }
        if inner == 1 {
            // Contiguous rows (split across threads): max; e^(x - max) into the output with the
            // sum accumulated in the same pass; then scale. The input is only read, in place.
            let input = try x.floatValues()
            let output = BufferPool.floats(input.count) { out in
                input.withUnsafeBufferPointer { xb in
                    let parts = Parallel.ranges(outer)
                    Parallel.forEach(parts.count) { part in
                        for o in parts[part] {
                            let row = xb.baseAddress! + o * length, target = out.baseAddress! + o * length
                            let scale = SIMD8<Float>(repeating: 1 / Softmax.exponentiateRow(row, count: length, into: target))
                            VectorMath.transform(target, count: length) { $0 * scale }
                        }
                    }
                }
            }
            return [Tensor(shape: x.shape, floats: output)]
        }
        var data = try x.floats()
        data.withUnsafeMutableBufferPointer { buffer in
            let v = buffer.baseAddress!
            var column = [Float](repeating: 0, count: length)
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = v + o * length * inner + i
                    for k in 0..<length { column[k] = base[k * inner] }
                    var peak = -Float.infinity
                    for k in 0..<length { peak = max(peak, column[k]) }
                    VectorMath.transform(&column) { VectorMath.exp($0 - peak) }
                    var sum: Float = 0
                    for k in 0..<length { sum += column[k] }
                    let scale = 1 / sum
                    for k in 0..<length { base[k * inner] = column[k] * scale }
                }
            }
        }
        return [Tensor(shape: x.shape, floats: data)]
    }
}

extension Softmax: ShapePreserving {
    /// e^(x - max x) of a row of `count` >= 1 floats into `target` (which may be `row`),
    /// returning their sum: softmax before its division (shared with `AttentionKernel`).
    @inline(__always)
    static func exponentiateRow(_ row: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>) -> Float {
        let peak = VectorMath.maximum(row, count: count)
        if peak.isFinite { return VectorMath.exponentiate(row, minus: peak, count: count, into: target) }
        // NaN or infinity: the exact exp, whose special lanes give NaN as ONNX Runtime does.
        if UnsafePointer(target) != row { target.update(from: row, count: count) }
        VectorMath.transform(target, count: count) { VectorMath.exp($0 - peak) }
        return VectorMath.sum(target, count: count)
    }
}
