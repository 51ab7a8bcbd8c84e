import Foundation
import ManakoCore
import Testing

@Test func reluHandWorked() throws {
    #expect(try run(Relu(), t([4], [-2, -0.5, 0, 3])).floats() == [0, 0, 0, 3])
}

@Test func clipHandWorked() throws {
    #expect(try run(Clip(min: 0, max: 6), t([4], [-1, 3, 6, 9])).floats() == [0, 3, 6, 6])
    #expect(try run(Clip(), t([3], [-1, 3, 9]), nil, Tensor(scalar: 2)).floats() == [-1, 2, 2])
}

@Test func addBroadcastsHandWorked() throws {
    let y = try run(Add(), t([2, 1], [10, 20]), t([3], [1, 2, 3]))
    #expect(try y.shape == [2, 3] && y.floats() == [11, 12, 13, 21, 22, 23])
    let ints = try run(Add(), Tensor(shape: [2], int64s: [1, 2]), Tensor(shape: [], int64s: [5]))
    #expect(try ints.int64s() == [6, 7])
    #expect(throws: ManakoError.self) { try run(Add(), t([2], [1, 2]), t([3], [1, 2, 3])) }
}

@Test func mulBroadcastsHandWorked() throws {
    let y = try run(Mul(), t([1, 3], [1, 2, 3]), t([2, 1], [2, -1]))
    #expect(try y.floats() == [2, 4, 6, -1, -2, -3])
}

@Test func softmaxHandWorked() throws {
    // ln 1, ln 3 -> 1/4, 3/4 along the last axis.
    let y = try run(Softmax(axis: -1, coerce2D: false), t([1, 2], [0, Float(log(3.0))]))
    expectClose(try y.floats(), [0.25, 0.75])
    // Opset < 13 normalises over everything from the axis on.
    let z = try run(Softmax(axis: 1, coerce2D: true), t([1, 2, 2], [0, 0, 0, 0]))
    #expect(try z.floats() == [0.25, 0.25, 0.25, 0.25])
}

@Test func identityAndDropoutPassThrough() throws {
    let x = t([2], [1, 2])
    #expect(try Identity().run([x]) == [x])
    let out = try Identity(producesMask: true).run([x])
    #expect(out[0] == x)
    #expect(out[1] == Tensor(shape: [2], bools: [true, true]))
}

/// Softmax's fused rows (clamped FMA exp and the sum in one pass) against the plain definition in
/// double precision, on rows of 1, 7, 197 and 1001 with a wide spread; a NaN or an infinity in a
/// row gives NaN there and leaves the other rows alone.
/// Rows in aligned memory (a pooled buffer) are read in place: e^0 / (e^0 + e^ln 3) = 1/4.
@Test func softmaxReadsAlignedInput() throws {
    let values: [Float] = [0, Float(log(3.0)), 5, 5]
    let x = Tensor(shape: [2, 2], aligned: AlignedFloats(count: values.count) { _ = $0.update(fromContentsOf: values) })
    let y = try run(Softmax(axis: -1, coerce2D: false), x).floats()
    expectClose(y, [0.25, 0.75, 0.5, 0.5], tolerance: 1e-6, "aligned softmax")
}

@Test func softmaxRowsMatchTheDefinition() throws {
    for length in [1, 7, 197, 1001] {
        let values = pseudoRandom(3 * length, seed: UInt64(length)).map { $0 * 60 }
        let y = try run(Softmax(axis: -1, coerce2D: false), t([3, length], values)).floats()
        for row in 0..<3 {
            let x = values[(row * length)..<((row + 1) * length)].map(Double.init)
            let peak = x.max()!, total = x.map { Foundation.exp($0 - peak) }.reduce(0, +)
            let expected = x.map { Float(Foundation.exp($0 - peak) / total) }
            expectClose(Array(y[(row * length)..<((row + 1) * length)]), expected, tolerance: 1e-6, "softmax row of \(length)")
        }
    }
    var special = pseudoRandom(3 * 9, seed: 5)
    special[4] = .nan
    special[9 + 2] = .infinity
    let y = try run(Softmax(axis: -1, coerce2D: false), t([3, 9], special)).floats()
    #expect(y[0..<9].allSatisfy(\.isNaN) && y[9..<18].allSatisfy(\.isNaN), "NaN and infinity rows")
    #expect(abs(y[18..<27].reduce(0, +) - 1) < 1e-6, "a clean row next to them")
}

/// Vector unary operators split large tensors across threads in chunks of whole vectors: on
/// 40,001 elements (past the threshold, a partial last vector) Erf gives the same bits on 1 and
/// 2 threads and matches the C library.
@Test func largeUnaryOperatorsSplitAcrossThreads() throws {
    let count = 40_001
    let values = pseudoRandom(count, seed: 7).map { $0 * 3 }
    let x = t([1, count], values)
    let one = try Parallel.withThreads(1) { try run(Erf(), x).floats() }
    let two = try Parallel.withThreads(2) { try run(Erf(), x).floats() }
    #expect(one == two)
    expectClose(two, values.map { VectorMath.libmErf($0) }, tolerance: 1e-5, "erf")
}

/// Float operands of one shape, or one of them a single number, take one dense pass (split
/// across threads past 32,768 elements); each element is the scalar operation's, on 1 and 2
/// threads alike, and a scalar of higher rank still widens the result as broadcasting does.
@Test func denseBinaryOperatorsMatchTheScalarOperation() throws {
    for count in [1, 7, 1001, 40_001] {
        let a = pseudoRandom(count, seed: 11), b = pseudoRandom(count, seed: 12).map { $0 + 2 }
        let x = t([1, count], a), y = t([1, count], b), scalar = t([1], [0.75])
        for threads in [1, 2] {
            let results = try Parallel.withThreads(threads) {
                try [Add().run([x, y]), Div().run([x, y]), Sub().run([x, scalar]), Mul().run([scalar, y])].map { try $0[0].floats() }
            }
            #expect(results[0] == zip(a, b).map { $0 + $1 }, "add \(count), \(threads) threads")
            #expect(results[1] == zip(a, b).map { $0 / $1 }, "div \(count), \(threads) threads")
            #expect(results[2] == a.map { $0 - 0.75 }, "sub scalar \(count), \(threads) threads")
            #expect(results[3] == b.map { 0.75 * $0 }, "scalar mul \(count), \(threads) threads")
        }
    }
    let widened = try Add().run([t([2], [1, 2]), t([1, 1, 1], [10])])[0]
    #expect(widened.shape == [1, 1, 2])
    #expect(try widened.floats() == [11, 12])
    let scalarFirst = try Sub().run([t([1, 1], [10]), t([3], [1, 2, 3])])[0]
    #expect(scalarFirst.shape == [1, 3])
    #expect(try scalarFirst.floats() == [9, 8, 7])
}
