import ManakoCore
import Testing

@Test func convHandWorked() throws {
    // 1x1x3x3 input 1..9, 2x2 kernel of ones, bias 10, no padding: sums of 2x2 windows + 10.
    let y = try run(Conv(), t([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]), t([1, 1, 2, 2], [1, 1, 1, 1]), t([1], [10]))
    #expect(y.shape == [1, 1, 2, 2])
    #expect(try y.floats() == [22, 26, 34, 38])
    // Padding 1, stride 2, kernel [[0,0],[0,1]]: picks x[2i-1+1][2j-1+1] = x[2i][2j].
    let z = try run(Conv(strides: [2, 2], pads: [1, 1, 1, 1]), t([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]), t([1, 1, 2, 2], [0, 0, 0, 1]))
    #expect(try z.floats() == [1, 3, 7, 9])
}

@Test func convRejectsMismatchedChannels() {
    #expect(throws: ManakoError.self) { try run(Conv(), t([1, 2, 3, 3], Array(repeating: 0, count: 18)), t([1, 3, 1, 1], [1, 1, 1])) }
    #expect(throws: ManakoError.self) { try run(Conv(group: 2), t([1, 3, 3, 3], Array(repeating: 0, count: 27)), t([2, 1, 1, 1], [1, 1])) }
}

/// The optimised paths (im2col + SGEMM, 1x1 GEMM, depthwise) against the seven-loop twin.
@Test(arguments: [
    // (batch, channels, height, width, outChannels, kernel, stride, dilation, pads, groups)
    (1, 1, 1, 1, 1, 1, 1, 1, [0, 0, 0, 0], 1),
    (3, 7, 7, 7, 5, 3, 1, 1, [1, 1, 1, 1], 1),
    (1, 3, 127, 1, 4, 1, 1, 1, [0, 0, 0, 0], 1),
    (2, 5, 13, 11, 7, 3, 2, 1, [0, 1, 2, 0], 1),
    (1, 4, 9, 9, 6, 3, 1, 2, [2, 2, 2, 2], 2),
    (1, 7, 15, 13, 7, 3, 1, 1, [1, 1, 1, 1], 7),
    (2, 9, 16, 17, 9, 5, 2, 1, [2, 2, 2, 2], 9),
    (1, 6, 10, 10, 12, 3, 2, 1, [1, 0, 1, 0], 3),
    (1, 1001, 1, 1, 7, 1, 1, 1, [0, 0, 0, 0], 1),
    (1, 3, 7, 7, 2, 7, 1, 1, [3, 3, 3, 3], 1),
])
func convMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, Int, [Int], Int)) throws {
    let (n, ch, h, w, m, k, s, d, pads, groups) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (k, k), strides: (s, s), dilations: (d, d), pads: pads, autoPad: .explicit)
    let x = pseudoRandom(n * ch * h * w, seed: 1)
    let weights = pseudoRandom(m * (ch / groups) * k * k, seed: 2)
    let bias = pseudoRandom(m, seed: 3)
    let fast = ConvKernels.convolve(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: groups)
    let slow = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: groups)
    expectClose(fast, slow, "conv \(c)")
}

/// The same cases split across threads: still equal to the twin, bit-identical to one thread
/// (the split never changes a sum's order), and identical run to run.
@Test(arguments: [
    (1, 7, 15, 13, 7, 3, 1, 1, [1, 1, 1, 1], 7),
    (2, 5, 13, 11, 7, 3, 2, 1, [0, 1, 2, 0], 1),
    (1, 6, 10, 10, 12, 3, 2, 1, [1, 0, 1, 0], 3),
    (3, 16, 9, 9, 33, 1, 1, 1, [0, 0, 0, 0], 1),
])
func threadedConvMatchesReferenceAndOneThread(_ c: (Int, Int, Int, Int, Int, Int, Int, Int, [Int], Int)) throws {
    let (n, ch, h, w, m, k, s, d, pads, groups) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (k, k), strides: (s, s), dilations: (d, d), pads: pads, autoPad: .explicit)
    let x = pseudoRandom(n * ch * h * w, seed: 21), weights = pseudoRandom(m * (ch / groups) * k * k, seed: 22), bias = pseudoRandom(m, seed: 23)
    let one = Parallel.withThreads(1) { ConvKernels.convolve(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: groups) }
    let two = Parallel.withThreads(2) { ConvKernels.convolve(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: groups) }
    let reference = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: groups)
    let again = Parallel.withThreads(2) { ConvKernels.convolve(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: groups) }
    expectClose(two, reference, "threaded conv \(c)")
    #expect(two == one, "1 vs 2 threads differ for \(c)")
    #expect(two == again, "two runs with 2 threads differ for \(c)")
}

/// The indirect GEMM for few input channels (stems) against the seven-loop twin plus residual and
/// activation: 1-4 channels, kernels 3-7, strides 1-3, dilation, asymmetric padding, rows of 1,
/// 7, 17 and 33 outputs (partial 16-column tiles), filters not a multiple of six, batch 3, a
/// patch embedding's weights in two L2-sized groups; and bit-identical with one and two threads.
@Test(arguments: [
    // (batch, channels, height, width, outChannels, kernel, stride, dilation, pads)
    (3, 3, 17, 33, 13, 3, 2, 1, [1, 1, 1, 1]),
    (1, 1, 1, 1, 7, 3, 1, 1, [1, 1, 1, 1]),
    (2, 4, 15, 9, 32, 5, 1, 2, [2, 0, 3, 1]),
    (1, 3, 23, 23, 64, 7, 2, 1, [3, 3, 3, 3]),
    (1, 2, 12, 40, 6, 3, 3, 1, [0, 1, 1, 0]),
    (1, 3, 14, 14, 1, 2, 2, 1, [0, 0, 0, 0]),
    // A patch embedding whose weights (768 x 50) make two panel groups (`panelGroups`).
    (2, 3, 48, 40, 50, 16, 16, 1, [0, 0, 0, 0]),
])
func indirectConvMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, Int, [Int])) throws {
    let (n, ch, h, w, m, k, s, d, pads) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (k, k), strides: (s, s), dilations: (d, d), pads: pads, autoPad: .explicit)
    let x = pseudoRandom(n * ch * h * w, seed: 41), weights = pseudoRandom(m * ch * k * k, seed: 42)
    let bias = pseudoRandom(m, seed: 43), residual = pseudoRandom(n * m * g.outHeight * g.outWidth, seed: 44)
    let plain = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: 1)
    let expected = zip(plain, residual).map { min(max($0 + $1, 0), 6) }
    func fast(_ threads: Int) -> [Float] {
        Parallel.withThreads(threads) {
            ConvKernels.convolve(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: 1,
                                 activation: .clip(min: 0, max: 6), residual: residual)
        }
    }
    let one = fast(1), two = fast(2)
    expectClose(one, expected, "indirect conv \(c)")
    #expect(one == two, "1 vs 2 threads differ for \(c)")
}

/// The patch GEMM (windows that tile the input: ViT's patch embedding) against the seven-loop
/// twin plus the activation's scalar definition: inputs not a multiple of the window (rows and
/// columns past the last window unread), non-square windows, 1 to 5 channels, filters not a
/// multiple of sixteen, K past one slice (3 x 16 x 17 = 816), batch 3; bit-identical with one and
/// two threads; and the Conv operator takes it (its plan says so) with the same result.
@Test(arguments: [
    // (batch, channels, height, width, outChannels, kernel height, kernel width)
    (3, 3, 35, 33, 13, 16, 16),
    (1, 1, 4, 4, 1, 2, 2),
    (2, 5, 9, 14, 20, 4, 3),
    (1, 3, 34, 17, 50, 16, 17),
])
func patchConvMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int)) throws {
    let (n, ch, h, w, m, kh, kw) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (kh, kw), strides: (kh, kw), dilations: (1, 1), pads: [0, 0, 0, 0],
                               autoPad: .explicit)
    let x = pseudoRandom(n * ch * h * w, seed: 51), weights = pseudoRandom(m * ch * kh * kw, seed: 52), bias = pseudoRandom(m, seed: 53)
    let gelu = scalarActivation(.gelu)
    let expected = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: 1).map(gelu)
    let packed = PatchConvKernel.packWeights(weights, outChannels: m, patch: ch * kh * kw)
    func fast(_ threads: Int) -> [Float] {
        Parallel.withThreads(threads) {
            [Float](unsafeUninitializedCapacity: expected.count) { out, initialized in
                x.withUnsafeBufferPointer { xs in
                    bias.withUnsafeBufferPointer { b in
                        PatchConvKernel.run(xs.baseAddress!, geometry: g, weights: packed, bias: b.baseAddress!, activation: .gelu,
                                            into: out.baseAddress!)
                    }
                }
                initialized = expected.count
            }
        }
    }
    let one = fast(1), two = fast(2)
    expectClose(one, expected, "patch conv \(c)")
    #expect(one == two, "1 vs 2 threads differ for \(c)")
    var conv = Conv(strides: [kh, kw])
    conv.activation = .gelu
    conv.patchWeights = packed
    let inputs = [t([n, ch, h, w], x), t([m, ch, kh, kw], weights), t([m], bias)]
    #expect(conv.plan(inputs).hasPrefix("patch GEMM"), "plan for \(c): \(conv.plan(inputs))")
    #expect(try conv.run(inputs)[0].floats() == one, "Conv's patch path for \(c)")
}

/// The direct depthwise kernel (phase-split padded planes, fused epilogue) against the seven-loop
/// twin followed by the activation's scalar definition, on awkward shapes.
@Test(arguments: [
    // (batch, channels, height, width, kernel, stride, dilation, pads)
    (1, 1, 1, 1, 3, 1, 1, [1, 1, 1, 1]),
    (3, 7, 7, 7, 3, 1, 1, [1, 1, 1, 1]),
    (1, 5, 1, 1001, 3, 1, 1, [1, 1, 1, 1]),
    (2, 9, 16, 17, 5, 2, 1, [2, 2, 2, 2]),
    (1, 6, 13, 11, 3, 2, 1, [0, 1, 1, 0]),
    (1, 3, 12, 12, 3, 3, 1, [1, 1, 1, 1]),
    (1, 4, 15, 9, 3, 1, 2, [2, 2, 2, 2]),
    (1, 11, 7, 7, 7, 1, 1, [3, 3, 3, 3]),
    (1, 2, 127, 9, 5, 2, 1, [1, 2, 2, 1]),
    // Row blocks of four with 1-3 rows left over, and one-step rows whose partial vector spills.
    (2, 3, 9, 1, 3, 1, 1, [1, 1, 1, 1]),
    (1, 5, 6, 14, 5, 1, 1, [2, 2, 2, 2]),
    (2, 4, 14, 14, 3, 2, 1, [1, 1, 1, 1]),
    (1, 3, 5, 16, 3, 1, 1, [1, 1, 1, 1]),
    (1, 3, 7, 33, 3, 1, 1, [1, 1, 1, 1]),
    (1, 2, 2, 17, 3, 1, 1, [1, 1, 1, 1]),
])
func depthwiseMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, [Int])) throws {
    let (n, ch, h, w, k, s, d, pads) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (k, k), strides: (s, s), dilations: (d, d), pads: pads, autoPad: .explicit)
    let x = pseudoRandom(n * ch * h * w, seed: 31).map { $0 * 4 }
    let weights = pseudoRandom(ch * k * k, seed: 32), bias = pseudoRandom(ch, seed: 33)
    let plain = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: ch, groups: ch)
    let activations: [(FusedActivation, (Float) -> Float)] = [
        (.none, { $0 }), (.relu, { max($0, 0) }), (.clip(min: 0, max: 6), { min(max($0, 0), 6) }),
        (.silu, { $0 / (1 + VectorMath.libmExp(-$0)) }), (.hardSwish, { $0 * max(0, min(1, $0 / 6 + 0.5)) }),
    ]
    for (activation, scalar) in activations {
        let fast = Parallel.withThreads(2) {
            ConvKernels.convolve(input: x, weights: weights, bias: bias, geometry: g, outChannels: ch, groups: ch, activation: activation)
        }
        expectClose(fast, plain.map(scalar), "depthwise \(c) \(activation)")
    }
}

/// Winograd F(4x4, 3x3) against the seven-loop twin: partial tiles, 1x1 and 7x7 planes, odd
/// channels, asymmetric padding, batch 3, with bias, residual and activations.
@Test(arguments: [
    // (batch, channels, outChannels, height, width, pads)
    (1, 8, 8, 1, 1, [1, 1, 1, 1]),
    (3, 9, 13, 7, 7, [1, 1, 1, 1]),
    (1, 8, 16, 127, 9, [0, 1, 2, 1]),
    (2, 17, 8, 17, 33, [0, 0, 0, 0]),
    (1, 64, 64, 28, 28, [1, 1, 1, 1]),
    (1, 16, 24, 32, 64, [1, 1, 1, 1]),  // whole rows of eight full tiles; C x block a multiple of 1024
    (1, 8, 12, 36, 30, [1, 1, 1, 1]),  // 72 tiles: two blocks, 48 and 24, one per thread
    (1, 344, 352, 20, 20, [1, 1, 1, 1]),  // weights past 16 MB: all 25 tiles in one block of 32
])
func winogradMatchesReference(_ c: (Int, Int, Int, Int, Int, [Int])) throws {
    let (n, ch, m, h, w, pads) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (3, 3), strides: (1, 1), dilations: (1, 1), pads: pads, autoPad: .explicit)
    let x = pseudoRandom(n * ch * h * w, seed: 51), weights = pseudoRandom(m * ch * 9, seed: 52), bias = pseudoRandom(m, seed: 53)
    let residual = pseudoRandom(n * m * g.outHeight * g.outWidth, seed: 54)
    let plain = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: m, groups: 1)
    let transformed = WinogradKernel.transformWeights(weights, outChannels: m, inChannels: ch)
    let tolerance = 5e-4 * max(1, (Float(ch) / 64).squareRoot())
    for threads in [1, 2] {
        let fast = Parallel.withThreads(threads) {
            WinogradKernel.run(input: x, weights: transformed, bias: bias, geometry: g, activation: .none, residual: nil)
        }
        // The transforms' constants (up to 8 and 1/24) cost precision: a few 1e-5 relative on
        // 64-channel sums of unit-scale values, so the bound is 5e-4 rather than 1e-4, growing
        // with the square root of the channels summed (5.5e-4 seen at 344).
        expectClose(fast, plain, tolerance: tolerance, "winograd \(c) threads \(threads)")
    }
    let fused = WinogradKernel.run(input: x, weights: transformed, bias: bias, geometry: g, activation: .silu, residual: residual)
    expectClose(fused, zip(plain, residual).map { ($0 + $1) / (1 + VectorMath.libmExp(-($0 + $1))) }, tolerance: tolerance,
                "winograd \(c) residual + SiLU")
    // Without a residual the activation runs in registers, before the store.
    for (activation, scalar) in [(FusedActivation.relu, { (v: Float) in max(v, 0) }), (.clip(min: -0.5, max: 0.5), { min(max($0, -0.5), 0.5) }),
                                 (.silu, { $0 / (1 + VectorMath.libmExp(-$0)) })] {
        let activated = WinogradKernel.run(input: x, weights: transformed, bias: bias, geometry: g, activation: activation, residual: nil)
        expectClose(activated, plain.map(scalar), tolerance: tolerance, "winograd \(c) \(activation)")
    }
}
