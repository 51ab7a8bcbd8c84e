import CManakoSIMD

/// Transcendental functions on eight lanes at once, for activations and Softmax.
/// exp: range reduction x = (8n + j) ln2/8 + r (|r| <= ln2/16), 2^(j/8) from a table, a cubic
/// for e^r, then 2^n built in the exponent bits. erf: a rational minimax fit in x^2 on [-4, 4], saturating beyond.
/// Accuracy against the C library is tested (a few ulp); `libm*` are the scalar twins.
public enum VectorMath {
    /// e^x per lane. Below -87.3 (where float goes denormal) the result is 0; above 88.72 it is infinity.
    /// `reduce`'s e^r * 2^(j/8) with n added to its exponent field: n reaches 128 at the top of
    /// the range, one past a float's own 2^n, but there e^r * 2^(j/8) is below 1, so the sum fits.
    /// Special lanes by `replacing(with:where:)`, which lowers to single AVX blends.
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let (power, bits) = reduce(mk_clamp(x, SIMD8(repeating: -87.33654), SIMD8(repeating: 88.72283)))
        let scaled = power * mk_exp2_eighths(bits), exponent = ((bits &>> 3) &- 127) &<< 23
        var result = unsafeBitCast(unsafeBitCast(scaled, to: SIMD8<Int32>.self) &+ exponent, to: SIMD8<Float>.self)
        result.replace(with: 0, where: x .< -87.33654)
        result.replace(with: .infinity, where: x .> 88.72283)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// 1 / (1 + e^-x) per lane.
    @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp(-x))
    }

    /// x * sigmoid(x) per lane (SiLU, Swish): x / (1 + e^-x), with e^-x reduced as `clampedExp(-x)`
    /// reduces it but the negation folded into the constants (s = -r below), and ln2/8 in one
    /// constant, not two: its float is within 2.4e-10 of it, so over SiLU's range (|8n| <= 1016)
    /// the worst error stays 3 ulp where the result is over 1e-9. The clamp is all the special
    /// cases need here (a NaN stays NaN through the numerator). The denominator is one FMA of
    /// e^r and its scale, the scale computed beside the polynomial. Zen 1 runs about one 256-bit
    /// operation a cycle here, so each one saved counts (SiLU was a fifth of EfficientNet-B0).
    @inline(__always)
    public static func silu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let c = mk_clamp(x, SIMD8(repeating: -88), SIMD8(repeating: 87.33654))
        let shifted = mk_multiply_add(c, SIMD8(repeating: -11.5415602), SIMD8(repeating: 12583928))
        let eighths = shifted - 12583928
        let s = mk_multiply_add(eighths, SIMD8(repeating: 0.08664339780807495), c)
        let power = mk_multiply_add(s * s, mk_multiply_add(s, SIMD8(repeating: -0.166668579), SIMD8(repeating: 0.500064492)), 1 - s)
        return x / mk_multiply_add(power, exponentScale(unsafeBitCast(shifted, to: SIMD8<Int32>.self)), SIMD8(repeating: 1))
    }

    /// x / 2 * (1 + erf(x / sqrt 2)) per lane (GELU, exact form): x/2 + x/2 erf in one FMA, and
    /// the clamp as vmaxps and vminps: a NaN lane of x becomes -4 there, but x/2 carries the NaN
    /// through (erf's own clamp keeps it, at two blends more). DeiT-Tiny 1 % faster.
    @inline(__always)
    public static func gelu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let half = 0.5 * x
        return mk_multiply_add(half, erfOfClamped(mk_clamp(x * 0.7071067811865476, SIMD8(repeating: -4), SIMD8(repeating: 4))), half)
    }

    /// tanh(x) per lane: below |x| = 0.3 the odd Taylor series to x^9 (its error there is under
    /// 1e-8 relative); above, 1 - 2 / (e^2|x| + 1), whose cancellation costs at most a few ulp at
    /// 0.3; the sign restored last; a NaN stays NaN.
    @inline(__always)
    public static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let a = x.replacing(with: -x, where: x .< 0)
        let x2 = x * x
        var series = SIMD8<Float>(repeating: 62.0 / 2835)
        series = mk_multiply_add(series, x2, SIMD8(repeating: -17.0 / 315))
        series = mk_multiply_add(series, x2, SIMD8(repeating: 2.0 / 15))
        series = mk_multiply_add(series, x2, SIMD8(repeating: -1.0 / 3))
        let small = mk_multiply_add(series * x2, x, x)
        let large = 1 - 2 / (clampedExp(a + a) + 1)
        let signed = large.replacing(with: -large, where: x .< 0)
        return signed.replacing(with: small, where: a .< 0.3).replacing(with: x, where: x .!= x)
    }

    /// sqrt(x) per lane (`mk_sqrt`; NaN below 0, as the C library gives).
    @inline(__always)
    public static func sqrt(_ x: SIMD8<Float>) -> SIMD8<Float> {
        mk_sqrt(x)
    }

    /// x * max(0, min(1, x / 6 + 1 / 2)) per lane (HardSwish: MobileNetV3).
    @inline(__always)
    public static func hardSwish(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x * mk_clamp(mk_multiply_add(x, SIMD8(repeating: 1 / 6), SIMD8(repeating: 0.5)), SIMD8(repeating: 0), SIMD8(repeating: 1))
    }

    /// e^x per lane for x clamped to [-87.3, 88], for activations (SiLU, tanh), where the clamp
    /// does not change the result; no special-case lanes (a NaN gives e^-87.3).
    @inline(__always)
    public static func clampedExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let (power, bits) = reduce(mk_clamp(x, SIMD8(repeating: -87.33654), SIMD8(repeating: 88)))
        return power * exponentScale(bits)
    }

    /// 2^(j/8) * 2^n from `reduce`'s bits, for -126 <= n <= 127 (the clamps' range): n added to
    /// the table entry's exponent by an integer add (`mk_exp2_eighths_offsets`).
    @inline(__always)
    static func exponentScale(_ bits: SIMD8<Int32>) -> SIMD8<Float> {
        unsafeBitCast(mk_exp2_eighths_offsets(bits) &+ (bits &<< 20), to: SIMD8<Float>.self)
    }

    /// e^c = e^r * 2^(j/8) * 2^n for c in [-87.34, 88.73]: c = (8n + j) ln2/8 + r, |r| <= ln2/16.
    /// Returns e^r, by 1 + r + r^2 (c2 + c3 r), and the bits whose low three are j (2^(j/8) comes
    /// from an eight-entry table, `mk_exp2_eighths`) and next eight n + 127.
    /// Against a degree-6 polynomial over |r| <= ln2/2 this is half the operations and half the
    /// dependent latency: SiLU ran 1.5x as fast, since on a long row the core runs out of room to
    /// overlap such chains. In FMAs (`mk_multiply_add`): Swift's `a * b + c` is two rounded operations.
    @inline(__always)
    static func reduce(_ c: SIMD8<Float>) -> (power: SIMD8<Float>, bits: SIMD8<Int32>) {
        // round(8 c / ln 2) + 8 * 127 in the low mantissa bits (the 1.5 * 2^23 trick).
        let shifted = mk_multiply_add(c, SIMD8(repeating: 11.5415602), SIMD8(repeating: 12583928))
        let eighths = shifted - 12583928
        // ln2/8 in two parts, the first 12 bits wide, so eighths times it is exact.
        var r = mk_multiply_add(eighths, SIMD8(repeating: -0.086639404296875), c)
        r = mk_multiply_add(eighths, SIMD8(repeating: -3.993272912e-6), r)
        let bits = unsafeBitCast(shifted, to: SIMD8<Int32>.self)
        // Minimax-fitted on |r| <= ln2/16 (relative error 2.6e-8).
        let p = mk_multiply_add(r * r, mk_multiply_add(r, SIMD8(repeating: 0.166668579), SIMD8(repeating: 0.500064492)), r + 1)
        return (p, bits)
    }

    /// erf(x) per lane: x * P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf(4) = 1 - 1.5e-8 in float).
    @inline(__always)
    public static func erf(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var c = x.replacing(with: -4, where: x .< -4)
        c.replace(with: 4, where: c .> 4)
        return erfOfClamped(c)
    }

    /// `erf` of lanes already clamped to [-4, 4].
    @inline(__always)
    static func erfOfClamped(_ c: SIMD8<Float>) -> SIMD8<Float> {
        let c2 = c * c
        @inline(__always) func step(_ v: SIMD8<Float>, _ coefficient: Float) -> SIMD8<Float> {
            mk_multiply_add(v, c2, SIMD8(repeating: coefficient))
        }
        var p = SIMD8<Float>(repeating: -2.72614225801306e-10)
        p = step(p, 2.77068142495902e-08)
        p = step(p, -2.10102402082508e-06)
        p = step(p, -5.69250639462346e-05)
        p = step(p, -7.34990630326855e-04)
        p = step(p, -2.95459980854025e-03)
        p = step(p, -1.60960333262415e-02)
        p = p * c
        var q = SIMD8<Float>(repeating: -1.45660718464996e-05)
        q = step(q, -2.13374055278905e-04)
        q = step(q, -1.68282697438203e-03)
        q = step(q, -7.37332916720468e-03)
        q = step(q, -1.42647390514189e-02)
        return p / q
    }

    /// Applies `f` to `values` in place, eight at a time; the tail goes through `f` zero-padded,
    /// so every element sees exactly the same arithmetic.
    @inline(__always)
    public static func transform(_ values: inout [Float], _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        values.withUnsafeMutableBufferPointer { buffer in transform(buffer.baseAddress!, count: buffer.count, f) }
    }

    /// One vector per step, `f` inlined: consecutive vectors are independent, so the core
    /// overlaps their chains by itself (four per step measured the same on EfficientNet-B0's
    /// SiLU, and spilled the curve's constants to the stack).
    @inline(__always)
    public static func transform(_ v: UnsafeMutablePointer<Float>, count: Int, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        var i = 0
        while i + 8 <= count {
            let raw = UnsafeMutableRawPointer(v + i)
            raw.storeBytes(of: f(raw.loadUnaligned(as: SIMD8<Float>.self)), as: SIMD8<Float>.self)
            i += 8
        }
        if i < count {
            // Masked: lane by lane, the tail went through the stack (a Softmax row of 197 spent
            // a third of its time on its tails).
            mk_store_first(v + i, f(mk_load_first(v + i, count - i)), count - i)
        }
    }

    /// target[i] = f(x[i]) for `count` floats, eight at a time, a partial last vector masked.
    /// (Unary operators use `ElementwiseUnary.apply(_:_:)` instead, where `f` is always inlined.)
    @inline(__always)
    public static func map(_ x: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>,
                           _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(target + i).storeBytes(of: f(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)),
                                                        as: SIMD8<Float>.self)
            i += 8
        }
        if i < count { mk_store_first(target + i, f(mk_load_first(x + i, count - i)), count - i) }
    }

    /// `transform` on `rows` rows of `columns` floats, `rowStride` apart, in each of `blocks`
    /// planes `blockStride` apart (a GEMM tile of C; a row of every channel block). Every block's
    /// rows are one list: a loop over blocks around the rows' loop reloaded the curves' constants
    /// for every vector (EfficientNet-B0 4 % slower).
    @inline(__always)
    public static func transform(_ v: UnsafeMutablePointer<Float>, rows: Int, columns: Int, rowStride: Int,
                                 blocks: Int = 1, blockStride: Int = 0, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        var i = 0
        while i < blocks * rows {
            transform(v + i / rows * blockStride + i % rows * rowStride, count: columns, f)
            i += 1
        }
    }

    /// target = e^(x - shift) for `count` floats (x - shift <= 0: `clampedExp`), returning their
    /// sum, accumulated in eight lanes in one fixed order (deterministic), in the same pass.
    @inline(__always)
    public static func exponentiate(_ x: UnsafePointer<Float>, minus shift: Float, count: Int,
                                    into target: UnsafeMutablePointer<Float>) -> Float {
        let offset = SIMD8<Float>(repeating: shift)
        var first = SIMD8<Float>(), second = SIMD8<Float>(), i = 0
        while i + 16 <= count {
            let source = UnsafeRawPointer(x + i), out = UnsafeMutableRawPointer(target + i)
            let a = clampedExp(source.loadUnaligned(as: SIMD8<Float>.self) - offset)
            let b = clampedExp(source.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self) - offset)
            out.storeBytes(of: a, as: SIMD8<Float>.self)
            out.storeBytes(of: b, toByteOffset: 32, as: SIMD8<Float>.self)
            first += a
            second += b
            i += 16
        }
        while i < count {
            let n = Swift.min(8, count - i)
            // Lanes past the end hold e^-shift: they must not count in the sum.
            let e = mk_keep_first(clampedExp(mk_load_first(x + i, n) - offset), n, 0)
            mk_store_first(target + i, e, n)
            first += e
            i += n
        }
        return (first + second).sum()
    }


    /// The sum of `count` floats, accumulated in four vectors of eight lanes (a fixed order:
    /// deterministic). One chain of vector adds waits three cycles per vector on the previous add;
    /// four chains keep the adders busy (a LayerNormalization row of 192 floats: 72 cycles -> 20).
    @inline(__always)
    public static func sum(_ v: UnsafePointer<Float>, count: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>(), i = 0
        let raw = UnsafeRawPointer(v)
        while i + 32 <= count {
            s0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            s1 += raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            s2 += raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
            s3 += raw.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
            i += 32
        }
        while i + 8 <= count {
            s0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var total = ((s0 + s1) + (s2 + s3)).sum()
        while i < count { total += v[i]; i += 1 }
        return total
    }

    /// The largest of `count` floats (count >= 1), compared in eight lanes; NaN if any is NaN.
    @inline(__always)
    public static func maximum(_ v: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity), i = 0
        @inline(__always) func include(_ x: SIMD8<Float>, in lanes: inout SIMD8<Float>) {
            lanes.replace(with: x, where: (x .> lanes) .| (x .!= x))
        }
        @inline(__always) func include(_ x: SIMD8<Float>) { include(x, in: &lanes) }
        // Four chains: each step's compare and blend wait on the step before (a row of 197
        // attention scores: about 125 cycles in one chain).
        var l1 = lanes, l2 = lanes, l3 = lanes
        let raw = UnsafeRawPointer(v)
        while i + 32 <= count {
            include(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), in: &lanes)
            include(raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), in: &l1)
            include(raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self), in: &l2)
            include(raw.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self), in: &l3)
            i += 32
        }
        include(l1)
        include(l2)
        include(l3)
        while i + 8 <= count {
            include(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        if i < count {
            // The tail: the last eight again when there are eight (a maximum may see a value
            // twice), else the few there are, the other lanes -infinity.
            if count >= 8 {
                include(UnsafeRawPointer(v + count - 8).loadUnaligned(as: SIMD8<Float>.self))
            } else {
                include(mk_keep_first(mk_load_first(v + i, count - i), count - i, -.infinity))
            }
        }
        // A NaN anywhere makes the maximum NaN (as numpy's max does).
        if any(lanes .!= lanes) { return .nan }
        return mk_horizontal_max(lanes)
    }

    /// Scalar twins from the C library, for tests.
    public static func libmExp(_ x: Float) -> Float { CMath.exp(x) }
    public static func libmErf(_ x: Float) -> Float { CMath.erf(x) }
    public static func libmTanh(_ x: Float) -> Float { CMath.tanh(x) }
}
