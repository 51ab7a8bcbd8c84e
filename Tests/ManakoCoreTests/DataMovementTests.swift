import ManakoCore
import Testing

// The strided copy (Transpose, Slice, Expand, Split, Where's broadcasting) and the reductions
// against their plain twins, and the vectorised generic operators against hand-worked values
// or the C library.

@Test func stridedCopyMatchesItsTwinOnAwkwardViews() {
    let source = pseudoRandom(3 * 7 * 1 * 5 * 2, seed: 11)
    let shape = [3, 7, 1, 5, 2], strides = Tensor.strides(shape)
    let views: [(offset: Int, shape: [Int], strides: [Int])] = [
        (0, shape, strides),                                                     // identity: one block copy
        (0, [2, 5, 1, 7, 3], [1, 2, 10, 10, 70]),                                // reversed axes
        (0, [3, 5, 7, 2], [70, 2, 10, 1]),                                       // a swap inside, pairs kept
        (strides[1] * 6 + 4 * 2, [3, 7, 5], [70, -10, -2]),                      // negative steps (reversed slices)
        (2, [3, 7, 1, 1, 1], [70, 10, 10, 2, 1]),                                // size-1 axes everywhere
        (0, [4, 3, 1001], [0, 70, 0]),                                           // broadcast: strides of 0
        (0, [1], [0]),                                                           // one element
        (0, [3, 0, 5], [70, 10, 2]),                                             // empty
    ]
    for view in views {
        let fast = StridedCopy.copy(source, offset: view.offset, shape: view.shape, strides: view.strides)
        let plain = StridedCopy.reference(source, offset: view.offset, shape: view.shape, strides: view.strides)
        #expect(fast == plain, "view \(view)")
        // The generic path (other element types) agrees with the float one.
        let asIntegers = source.map { Int64($0 * 1000) }
        #expect(StridedCopy.copy(asIntegers, offset: view.offset, shape: view.shape, strides: view.strides)
                == StridedCopy.reference(asIntegers, offset: view.offset, shape: view.shape, strides: view.strides))
    }
    // Transposes through 8x8 tiles (whole and partial): the contiguous axis next to, or far
    // from, the innermost one.
    let block = pseudoRandom(3 * 13 * 11, seed: 5)
    for view in [([3, 11, 13], [143, 1, 11]), ([11, 3, 13], [1, 143, 11]), ([8, 8], [1, 13]), ([2, 16, 9], [143, 1, 13])] {
        #expect(StridedCopy.copy(block, offset: 0, shape: view.0, strides: view.1)
                == StridedCopy.reference(block, offset: 0, shape: view.0, strides: view.1), "tiles \(view)")
    }
    #expect(StridedCopy.merged(shape: [2, 1, 3, 4], strides: [12, 99, 4, 1]) == ([24], [1]))
    #expect(StridedCopy.merged(shape: [2, 3, 4], strides: [1, 8, 2]) == ([2, 12], [1, 2]))
    #expect(StridedCopy.merged(shape: [2, 3, 4], strides: [1, 9, 2]) == ([2, 3, 4], [1, 9, 2]))
}

@Test func sliceSplitExpandAndGatherHandWorked() throws {
    let x = t([2, 3, 4], (0..<24).map(Float.init))
    // Rows 2..0 backwards, every second column from 1.
    let slice = try run(StridedSlice(starts: [-1, 1], ends: [-100, 4], axes: [1, 2]), x, nil, nil, nil, Tensor(shape: [2], int64s: [-1, 2]))
    #expect(try slice.shape == [2, 3, 2] && slice.floats() == [9, 11, 5, 7, 1, 3, 21, 23, 17, 19, 13, 15])
    let parts = try Split(axis: 1, split: [1, 2], outputCount: 2).run([x])
    #expect(try parts[0].floats() == [0, 1, 2, 3, 12, 13, 14, 15])
    #expect(try parts[1].shape == [2, 2, 4] && parts[1].floats() == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
    let expanded = try run(Expand(), t([3, 1], [1, 2, 3]), Tensor(shape: [3], int64s: [2, 1, 2]))
    #expect(try expanded.shape == [2, 3, 2] && expanded.floats() == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
    let gathered = try run(Gather(axis: 2), x, Tensor(shape: [2], int64s: [3, -4]))
    #expect(try gathered.shape == [2, 3, 2] && gathered.floats() == [3, 0, 7, 4, 11, 8, 15, 12, 19, 16, 23, 20])
    let transposed = try run(Transpose(permutation: [2, 0, 1]), x)
    #expect(try transposed.shape == [4, 2, 3] && Array(transposed.floats().prefix(7)) == [0, 4, 8, 12, 16, 20, 1])
}

@Test func whereSelectsWithBroadcastingHandWorked() throws {
    // 19 elements: two whole vectors of eight and a tail of three, the condition broadcast by row.
    let condition = Tensor(shape: [1, 19], bools: (0..<19).map { $0 % 3 == 0 })
    let x = t([1, 19], (0..<19).map(Float.init)), y = t([2, 1], [-1, -2])
    let chosen = try run(Where(), condition, x, y)
    #expect(try chosen.shape == [2, 19])
    let expected: [Float] = [-1, -2].flatMap { other in (0..<19).map { $0 % 3 == 0 ? Float($0) : other } }
    #expect(try chosen.floats() == expected)
}

@Test(arguments: [[1, 7, 127], [3, 5, 7, 2], [2, 1, 1001]])
func reductionsMatchTheirTwinOverEveryAxisSet(shape: [Int]) {
    var x = pseudoRandom(shape.reduce(1, *), seed: UInt64(shape.count))
    for subset in 1..<(1 << shape.count) {
        let axes = Set(shape.indices.filter { subset & (1 << $0) != 0 })
        for kind in [Reduction.Kind.sum, .max, .min] {
            let fast = Reduction.reduce(x, shape: shape, axes: axes, kind: kind)
            let plain = Reduction.reference(x, shape: shape, axes: axes, kind: kind)
            // Sums are added in another order (eight lanes); maxima and minima are exact.
            if kind == .sum { expectClose(fast, plain, tolerance: 1e-5, "sum over \(axes) of \(shape)") }
            else { #expect(fast == plain, "\(kind) over \(axes) of \(shape)") }
        }
    }
    // A NaN anywhere in a reduced row makes its maximum and minimum NaN.
    x[x.count - 1] = .nan
    let last = Set([shape.count - 1])
    #expect(Reduction.reduce(x, shape: shape, axes: last, kind: .max).last!.isNaN)
    #expect(Reduction.reduce(x, shape: shape, axes: last, kind: .min).last!.isNaN)
}

@Test func reduceOperatorsHandWorked() throws {
    let x = t([2, 3], [1, 5, 3, -4, 0, 2])
    #expect(try run(ReduceSum(axes: [1], keepDims: false), x).floats() == [9, -2])
    #expect(try run(ReduceMax(axes: [0]), x).floats() == [1, 5, 3])
    #expect(try run(ReduceMin(), x).floats() == [-4])
    // Axes from input 1 (ReduceSum opset 13+); bools reduce as "any" and "all".
    #expect(try run(ReduceSum(), x, Tensor(shape: [1], int64s: [0])).floats() == [-3, 5, 5])
    let flags = Tensor(shape: [2, 2], bools: [true, false, false, false])
    #expect(try run(ReduceMax(axes: [1]), flags) == Tensor(shape: [2, 1], bools: [true, false]))
    #expect(try run(ReduceMin(axes: [0]), flags) == Tensor(shape: [1, 2], bools: [false, false]))
}

@Test func vectorTanhMatchesTheCLibrary() {
    let xs = stride(from: Float(-12), through: 12, by: 0.00913).map { $0 } + [0, 1e-30, -1e-7, 0.2999, 0.3, 0.3001, -0.3, 9.5, 100]
    var values = xs
    VectorMath.transform(&values, VectorMath.tanh)
    let worst = zip(xs, values).map { x, y in abs(y - VectorMath.libmTanh(x)) / VectorMath.libmTanh(x).magnitude.ulp }.max() ?? 0
    #expect(worst <= 4, "tanh: \(worst) ulp")
    var special: [Float] = [.infinity, -.infinity, .nan, -0.0]
    VectorMath.transform(&special, VectorMath.tanh)
    #expect(special[0] == 1 && special[1] == -1 && special[2].isNaN && special[3] == 0)
}

@Test func vectorisedUnaryOperatorsHandWorked() throws {
    let x = t([11], [-3, -0.5, 0, 0.25, 1, 4, 9, 16, 100, .nan, -.infinity])
    #expect(try run(Relu(), x).floats().prefix(9) == [0, 0, 0, 0.25, 1, 4, 9, 16, 100])
    let roots = try run(Sqrt(), x).floats()
    #expect(Array(roots[2...8]) == [0, 0.5, 1, 2, 3, 4, 10] && roots[0].isNaN && roots[9].isNaN)
    #expect(try run(Clip(min: -1, max: 2), x).floats().prefix(9) == [-1, -0.5, 0, 0.25, 1, 2, 2, 2, 2])
    // min(max(x, lo), hi) with lo > hi gives hi everywhere.
    #expect(try run(Clip(min: 5, max: 1), x).floats().prefix(9).allSatisfy { $0 == 1 })
    #expect(try run(Pow(), x, Tensor(scalar: 2)).floats().prefix(9) == [9, 0.25, 0, 0.0625, 1, 16, 81, 256, 10000])
    #expect(try run(Pow(), t([2], [4, 9]), Tensor(scalar: 0.5)).floats() == [2, 3])
}

@Test(arguments: [(7, 3, 1, 1, false, false), (8, 3, 2, 1, false, true), (13, 3, 1, 1, true, false),
                  (9, 2, 2, 1, true, true), (1, 3, 1, 1, false, false), (17, 5, 2, 2, true, false)])
func averagePoolMatchesItsTwin(size: Int, kernel: Int, stride: Int, pad: Int, includePad: Bool, ceil: Bool) throws {
    let g = try WindowGeometry(input: [2, 3, size, size + 2], kernel: (kernel, kernel), strides: (stride, stride),
                               dilations: (1, 1), pads: [pad, pad, pad, pad], autoPad: .explicit, ceilMode: ceil)
    let x = pseudoRandom(2 * 3 * size * (size + 2), seed: UInt64(size))
    let kind: PoolKernels.Kind = includePad ? .averageIncludingPad : .average
    expectClose(PoolKernels.pool(x, g, kind: kind), PoolKernels.reference(x, g, kind: kind), tolerance: 1e-6, "average pool")
    #expect(PoolKernels.pool(x, g, kind: .max) == PoolKernels.reference(x, g, kind: .max))
}
