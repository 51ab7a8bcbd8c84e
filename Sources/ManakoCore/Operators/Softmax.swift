#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        var data = try x.floats()
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var peak = -Float.infinity
                for k in 0..<length { peak = max(peak, data[base + k * inner]) }
                var sum: Float = 0
                for k in 0..<length {
                    let e = (data[base + k * inner] - peak).exponential
                    data[base + k * inner] = e
                    sum += e
                }
                for k in 0..<length { data[base + k * inner] /= sum }
            }
        }
        return [Tensor(shape: x.shape, floats: data)]
    }
}

extension Float {
    /// e^self, via the C library (the core avoids Foundation).
    @inlinable var exponential: Float { expf(self) }
}

extension Softmax: ShapePreserving {}
