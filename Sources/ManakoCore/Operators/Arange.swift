/// start, start + delta, ... up to (excluding) limit (ONNX Range), float32 or integer.
public struct Arange: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let start = try inputs.required(0, "start"), limit = try inputs.required(1, "limit"), delta = try inputs.required(2, "delta")
        for (name, t) in [("start", start), ("limit", limit), ("delta", delta)] where t.count != 1 {
            throw ManakoError(.shapeMismatch, "Range's \(name) must be a scalar, got shape \(t.shape)")
        }
        if start.elementType == .float32 {
            let (s, l, d) = (try start.floats()[0], try limit.floats()[0], try delta.floats()[0])
            guard d != 0 else { throw ManakoError(.invalidModel, "Range delta is 0") }
            let n = try Arange.length((Double(l) - Double(s)) / Double(d))
            return [Tensor(shape: [n], floats: (0..<n).map { s + Float($0) * d })]
        }
        let (s, l, d) = (try start.int64s()[0], try limit.int64s()[0], try delta.int64s()[0])
        guard d != 0 else { throw ManakoError(.invalidModel, "Range delta is 0") }
        let span = Double(l) - Double(s)
        let n = try Arange.length(span / Double(d))
        // Wrapping: rounding can put the last step one past Int64's range on absurd bounds.
        let values = (0..<n).map { s &+ Int64($0) &* d }
        let result = Tensor(shape: [n], int64s: values)
        return start.elementType == .int32 ? try Cast(to: .int32).run([result]) : [result]
    }

    /// The element count for `steps` (limit - start) / delta, checked before any conversion:
    /// a NaN or astronomically long range is an error, not a trap.
    static func length(_ steps: Double) throws -> Int {
        guard !steps.isNaN else { throw ManakoError(.invalidModel, "Range bounds give NaN") }
        let limit = ElementLimit.current
        let n = steps.rounded(.up)
        guard n <= Double(limit) else {
            throw ManakoError(.limitExceeded, "Range of \(n) elements is over the limit of \(limit) (maxTensorElements)")
        }
        return n <= 0 ? 0 : Int(n)  // -1e30 steps is an empty range, not a trap
    }
}
