import Glibc
import ManakoCore
import Testing

/// Largest error in units of the C library result's last place (ulp), over `xs`.
private func worstUlp(_ xs: [Float], _ fast: (SIMD8<Float>) -> SIMD8<Float>, _ exact: (Float) -> Float,
                      absoluteFloor: Float = 0) -> Float {
    var values = xs
    VectorMath.transform(&values, fast)
    return zip(xs, values).map { x, y in
        let e = exact(x)
        if e.isInfinite || y.isInfinite { return e == y ? 0 : .infinity }
        if abs(e - y) <= absoluteFloor { return 0 }
        if !e.isNormal && abs(y) < Float.leastNormalMagnitude { return 0 }  // denormal results flush to zero
        return abs(e - y) / max(e.ulp, Float.leastNormalMagnitude)
    }.max() ?? 0
}

@Test func vectorExpMatchesTheCLibrary() {
    let xs = stride(from: Float(-87), through: 88.5, by: 0.0137).map { $0 } + [0, -0, 1, -1, 1e-8, -1e-8, 88.7, 88.8, -88, -100, -1000]
    #expect(worstUlp(xs, VectorMath.exp, VectorMath.libmExp) <= 3)
    var special: [Float] = [.infinity, -.infinity, .nan]
    VectorMath.transform(&special, VectorMath.exp)
    #expect(special[0] == .infinity && special[1] == 0 && special[2].isNaN)
}

@Test func vectorErfMatchesTheCLibrary() {
    let xs = stride(from: Float(-6), through: 6, by: 0.00731).map { $0 } + [0, 1e-6, -1e-6, 3.99, 4, 100, -100]
    // Near zero erf(x) ~ 1.128 x: compare relatively; elsewhere within 1e-7 absolute or 8 ulp.
    #expect(worstUlp(xs, VectorMath.erf, VectorMath.libmErf, absoluteFloor: 1e-7) <= 8)
    let small: [Float] = stride(from: Float(-0.01), through: 0.01, by: 0.0001).map { $0 }
    #expect(worstUlp(small, VectorMath.erf, VectorMath.libmErf) <= 8)
}

/// GELU against x / 2 * (1 + erf(x / sqrt 2)) in double precision (the C library's double erf):
/// within 8 ulp, or 1e-6 absolute where x is negative enough for 1 + erf to cancel (erf's error
/// of about 1e-7 there, times x / 2). Its own clamp (vmaxps / vminps, not erf's blends) must keep
/// a NaN a NaN and give 0 and x past the clamp.
@Test func vectorGeluMatchesItsDefinition() {
    let xs = stride(from: Float(-12), through: 12, by: 0.00713).map { $0 } + [0, 1e-6, -1e-6, 5.65, 5.66, 100, -100]
    let exact: (Float) -> Float = { x in Float(0.5 * Double(x) * (1 + Glibc.erf(Double(x) / 2.0.squareRoot()))) }
    #expect(worstUlp(xs, VectorMath.gelu, exact, absoluteFloor: 1e-6) <= 8)
    var special: [Float] = [.nan, .infinity, 100, -100]
    VectorMath.transform(&special, VectorMath.gelu)
    #expect(special[0].isNaN && special[1] == .infinity && special[2] == 100 && special[3] == 0)
}

@Test func clampedExpMatchesTheCLibraryInsideItsClamp() {
    // Every table entry j and both ends of r's range: steps of 0.0113 cross each eighth of ln 2
    // (0.0866) several times; the ends of the clamp give e^-87.33654 and e^88.
    let xs = stride(from: Float(-87.33), through: 88, by: 0.0113).map { $0 } + [0, -0, 1e-8, -1e-8, 0.0433, -0.0433, 88, -87.33654]
    #expect(worstUlp(xs, VectorMath.clampedExp, VectorMath.libmExp) <= 3)
    var outside: [Float] = [100, -100, .infinity, -.infinity]
    VectorMath.transform(&outside, VectorMath.clampedExp)
    #expect(outside == [VectorMath.libmExp(88), VectorMath.libmExp(-87.33654), VectorMath.libmExp(88), VectorMath.libmExp(-87.33654)])
}

@Test func vectorSigmoidAndSiLUMatchTheirDefinitions() {
    let xs = stride(from: Float(-30), through: 30, by: 0.0173).map { $0 }
    #expect(worstUlp(xs, VectorMath.sigmoid, { 1 / (1 + VectorMath.libmExp(-$0)) }, absoluteFloor: 1e-9) <= 4)
    #expect(worstUlp(xs, VectorMath.silu, { $0 / (1 + VectorMath.libmExp(-$0)) }, absoluteFloor: 1e-9) <= 4)
}

@Test(arguments: [0, 1, 7, 8, 127, 1001])
func vectorSumMatchesPlainSum(_ count: Int) {
    let xs = pseudoRandom(count, seed: UInt64(count + 5)).map(Double.init)
    let floats = xs.map(Float.init)
    let sum = floats.withUnsafeBufferPointer { VectorMath.sum($0.baseAddress ?? UnsafePointer(bitPattern: 16)!, count: count) }
    #expect(abs(Double(sum) - xs.reduce(0, +)) <= 1e-5 * Double(max(1, count)))
}
