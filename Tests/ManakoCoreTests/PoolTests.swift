import ManakoCore
import Testing

let grid = t([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9])

@Test func maxPoolHandWorked() throws {
    #expect(try run(MaxPool(kernelShape: [2, 2]), grid).floats() == [5, 6, 8, 9])
    // ceil_mode keeps the partial window at the edge: 3x3 stride 2 kernel 2 gives 2x2.
    let ceil = try run(MaxPool(kernelShape: [2, 2], strides: [2, 2], ceilMode: true), grid)
    #expect(try ceil.shape == [1, 1, 2, 2] && ceil.floats() == [5, 6, 8, 9])
    // Padding never wins, even against negative values.
    let negative = try run(MaxPool(kernelShape: [3, 3], pads: [1, 1, 1, 1]), t([1, 1, 1, 1], [-5]))
    #expect(try negative.floats() == [-5])
}

@Test func averagePoolHandWorked() throws {
    #expect(try run(AveragePool(kernelShape: [2, 2]), grid).floats() == [3, 4, 6, 7])
    // Corner window with pad 1: excluding padding averages 1,2,4,5 = 3; including it divides by 9.
    let exclude = try run(AveragePool(kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), grid)
    #expect(try exclude.floats()[0] == 3)
    let include = try run(AveragePool(kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: true), grid)
    #expect(try include.floats()[0] == 12.0 / 9.0)
}

@Test func globalAveragePoolHandWorked() throws {
    let y = try run(GlobalAveragePool(), t([1, 2, 1, 2], [1, 3, 10, 20]))
    #expect(try y.shape == [1, 2, 1, 1] && y.floats() == [2, 15])
}

/// An input in aligned memory (a pooled buffer, or a caller's input read in place) is read
/// where it is, with the same result.
@Test func globalAveragePoolReadsAlignedInput() throws {
    let values: [Float] = [1, 3, 10, 20, -4, 6]
    let x = Tensor(shape: [1, 3, 2], aligned: AlignedFloats(count: values.count) { _ = $0.update(fromContentsOf: values) })
    let y = try run(GlobalAveragePool(), x)
    #expect(try y.shape == [1, 3, 1] && y.floats() == [2, 15, 1])
}

/// BatchNormalization by hand on an input in aligned memory (read in place): per channel
/// (x - mean) / sqrt(var + eps) * scale + B, with eps 0 and var 4 (so a divisor of 2).
@Test func batchNormalizationReadsAlignedInput() throws {
    let values: [Float] = [1, 3, 10, 20]
    let x = Tensor(shape: [1, 2, 1, 2], aligned: AlignedFloats(count: values.count) { _ = $0.update(fromContentsOf: values) })
    let y = try run(BatchNormalization(epsilon: 0), x, t([2], [1, 2]), t([2], [0, 1]), t([2], [1, 10]), t([2], [4, 4]))
    #expect(try y.floats() == [0, 1, 1, 11])
}

@Test func windowGeometryFollowsOnnxAutoPad() throws {
    let same = try WindowGeometry(input: [1, 1, 9, 8], kernel: (4, 4), strides: (2, 2), dilations: (1, 1), pads: [0, 0, 0, 0], autoPad: .sameUpper)
    #expect(same.outHeight == 5 && same.outWidth == 4 && same.padTop == 1 && same.padBottom == 2)
    let lower = try WindowGeometry(input: [1, 1, 9, 8], kernel: (4, 4), strides: (2, 2), dilations: (1, 1), pads: [0, 0, 0, 0], autoPad: .sameLower)
    #expect(lower.padTop == 2 && lower.padBottom == 1)
    #expect(throws: ManakoError.self) {
        try WindowGeometry(input: [1, 1, 2, 2], kernel: (5, 5), strides: (1, 1), dilations: (1, 1), pads: [0, 0, 0, 0], autoPad: .explicit)
    }
}

@Test func reduceMeanHandWorked() throws {
    let x = t([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])
    let spatial = try run(ReduceMean(axes: [-1]), x)
    #expect(try spatial.shape == [2, 2, 1] && spatial.floats() == [1.5, 3.5, 5.5, 7.5])
    let first = try run(ReduceMean(axes: [0], keepDims: false), x)
    #expect(try first.shape == [2, 2] && first.floats() == [3, 4, 5, 6])
    #expect(try run(ReduceMean(keepDims: false), x).floats() == [4.5])
    #expect(try run(ReduceMean(noopWithEmptyAxes: true), x) == x)
}

/// Vectorised max pooling against the plain twin: padding, ceil mode, dilation, strides 1-3,
/// widths below and above eight, windows wholly in the padding, batch 3, on 1 and 2 threads.
@Test(arguments: [
    // (batch, channels, height, width, kernel, stride, dilation, pads, ceil)
    (1, 1, 1, 1, 1, 1, 1, [0, 0, 0, 0], false),
    (3, 7, 7, 7, 3, 2, 1, [1, 1, 1, 1], false),
    (1, 5, 112, 112, 3, 2, 1, [1, 1, 1, 1], false),
    (2, 3, 13, 11, 3, 2, 1, [0, 0, 0, 0], true),
    (1, 2, 15, 17, 2, 3, 2, [1, 0, 0, 1], true),
    (1, 4, 9, 1001, 3, 1, 1, [1, 1, 1, 1], false),
    (1, 3, 111, 111, 3, 2, 1, [0, 0, 0, 0], true),
    (1, 2, 5, 6, 2, 1, 1, [2, 2, 2, 2], false),
    (2, 3, 12, 20, 3, 1, 2, [2, 1, 0, 3], false),
])
func maxPoolMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, [Int], Bool)) throws {
    let (n, ch, h, w, k, s, d, pads, ceil) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (k, k), strides: (s, s), dilations: (d, d), pads: pads,
                               autoPad: .explicit, ceilMode: ceil)
    let x = pseudoRandom(n * ch * h * w, seed: 61)
    let plain = PoolKernels.reference(x, g, kind: .max)
    for threads in [1, 2] {
        #expect(Parallel.withThreads(threads) { PoolKernels.pool(x, g, kind: .max) } == plain, "max pool \(c) threads \(threads)")
    }
}

/// Average pooling with every window inside the input takes the vector path: same as the twin.
@Test(arguments: [(2, 3, 8, 8, 2, 2), (1, 5, 56, 57, 2, 2), (3, 2, 9, 20, 3, 1), (1, 1, 7, 7, 7, 1)])
func averagePoolMatchesReference(_ c: (Int, Int, Int, Int, Int, Int)) throws {
    let (n, ch, h, w, k, s) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (k, k), strides: (s, s), dilations: (1, 1), pads: [0, 0, 0, 0], autoPad: .explicit)
    let x = pseudoRandom(n * ch * h * w, seed: 62)
    expectClose(Parallel.withThreads(2) { PoolKernels.pool(x, g, kind: .average) }, PoolKernels.reference(x, g, kind: .average), tolerance: 1e-6)
}
