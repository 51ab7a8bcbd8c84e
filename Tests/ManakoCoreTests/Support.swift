import ManakoCore
import Testing

func t(_ shape: [Int], _ values: [Float]) -> Tensor { Tensor(shape: shape, floats: values) }

/// Deterministic pseudo-random floats in [-1, 1) (a linear congruential generator).
func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

func expectClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ what: String = "") {
    #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) elements")
    guard a.count == b.count else { return }
    let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    #expect(worst <= tolerance, "\(what): worst relative difference \(worst)")
}

func run(_ op: any Operator, _ inputs: Tensor?...) throws -> Tensor {
    try op.run(inputs)[0]
}

/// The activations lane by lane, written out (not the kernels' vector code).
func scalarActivation(_ activation: FusedActivation) -> @Sendable (Float) -> Float {
    switch activation {
    case .none: return { $0 }
    case .relu: return { max($0, 0) }
    case .clip(let lo, let hi): return { min(max($0, lo), hi) }
    case .silu: return { $0 / (1 + VectorMath.libmExp(-$0)) }
    case .hardSwish: return { $0 * min(max($0 / 6 + 0.5, 0), 1) }
    case .gelu: return { 0.5 * $0 * (1 + VectorMath.libmErf($0 / Float(2).squareRoot())) }
    }
}
