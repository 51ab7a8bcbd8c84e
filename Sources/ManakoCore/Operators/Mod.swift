/// Remainder with numpy broadcasting (ONNX Mod). `fmod` false: integer modulo with the
/// divisor's sign (Python's %); true: C fmod, with the dividend's sign (required for floats).
public struct Mod: Operator {
    public var fmod: Bool

    public init(fmod: Bool = false) { self.fmod = fmod }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let a = try inputs.required(0, "A"), b = try inputs.required(1, "B")
        if a.elementType == .float32 || b.elementType == .float32 {
            guard fmod else { throw ManakoError(.invalidModel, "Mod of floats needs fmod=1") }
            let (out, shape) = try Broadcast.apply(try a.floats(), a.shape, try b.floats(), b.shape) { $0.truncatingRemainder(dividingBy: $1) }
            return [Tensor(shape: shape, floats: out)]
        }
        let result = try ElementwiseBinary.apply(a, b, float: { x, _ in x }, integer: { x, y in
            guard y != 0 else { return 0 }
            let r = x.remainderReportingOverflow(dividingBy: y).partialValue
            return fmod || r == 0 || (r < 0) == (y < 0) ? r : r + y
        })
        return a.elementType == .int32 ? try Cast(to: .int32).run([result]) : [result]
    }
}

extension Mod: ElementwiseBroadcasting {}
