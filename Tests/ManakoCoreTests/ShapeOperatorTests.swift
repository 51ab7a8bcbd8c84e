import ManakoCore
import Testing

@Test func flattenHandWorked() throws {
    let x = t([2, 3, 4], Array(repeating: 0, count: 24))
    #expect(try run(Flatten(axis: 1), x).shape == [2, 12])
    #expect(try run(Flatten(axis: 0), x).shape == [1, 24])
    #expect(try run(Flatten(axis: -1), x).shape == [6, 4])
}

@Test func reshapeHandWorked() throws {
    let x = t([2, 3, 4], Array(0..<24).map(Float.init))
    let y = try run(Reshape(), x, Tensor(shape: [3], int64s: [0, -1, 2]))
    #expect(try y.shape == [2, 6, 2] && y.floats() == x.floats())
    #expect(try Reshape.resolve([0, 3], input: [0, 5], allowZero: true) == [0, 3])
    #expect(throws: ManakoError.self) { try run(Reshape(), x, Tensor(shape: [2], int64s: [-1, -1])) }
    #expect(throws: ManakoError.self) { try run(Reshape(), x, Tensor(shape: [2], int64s: [5, 5])) }
}

@Test func concatHandWorked() throws {
    let y = try run(Concat(axis: 1), t([2, 1], [1, 2]), t([2, 2], [3, 4, 5, 6]))
    #expect(try y.shape == [2, 3] && y.floats() == [1, 3, 4, 2, 5, 6])
    #expect(throws: ManakoError.self) { try run(Concat(axis: 0), t([2, 1], [1, 2]), t([2, 2], [3, 4, 5, 6])) }
}

@Test func padHandWorked() throws {
    let x = t([1, 3], [1, 2, 3])
    let pads = Tensor(shape: [4], int64s: [0, 2, 0, 1])
    #expect(try run(Pad(mode: .constant), x, pads, Tensor(scalar: 9)).floats() == [9, 9, 1, 2, 3, 9])
    #expect(try run(Pad(mode: .reflect), x, pads).floats() == [3, 2, 1, 2, 3, 2])
    #expect(try run(Pad(mode: .edge), x, pads).floats() == [1, 1, 1, 2, 3, 3])
    #expect(try run(Pad(mode: .constant, staticPads: [0, -1, 0, 0]), x).floats() == [2, 3])
}

@Test func constantProducesItsValue() throws {
    let value = t([2], [4, 5])
    #expect(try run(Constant(value)) == value)
}

/// The float Transpose (row copies, split across threads when large) against the generic
/// index path on the same values as int64, for a permutation that keeps the last axis (plain
/// row copies) and one that moves it (strided rows), on 1 and 2 threads.
@Test func largeFloatTransposesMatchTheIndexPath() throws {
    let shape = [3, 5, 7, 331]
    let count = shape.reduce(1, *)
    let floats = (0..<count).map { Float($0) }, integers = (0..<count).map { Int64($0) }
    for perm in [[2, 0, 1, 3], [0, 3, 1, 2]] {
        let expected = try run(Transpose(permutation: perm), Tensor(shape: shape, int64s: integers)).int64s().map { Float($0) }
        for threads in [1, 2] {
            let y = try Parallel.withThreads(threads) { try run(Transpose(permutation: perm), t(shape, floats)) }
            #expect(y.shape == perm.map { shape[$0] })
            #expect(try y.floats() == expected, "perm \(perm) threads \(threads)")
        }
    }
}

/// Float Concat into a pooled buffer, its large copies split across threads: on axis 1 with
/// one outer row (DenseNet's case) and on axis 2 with several, equal to the int64 path.
@Test func largeFloatConcatsMatchTheGenericPath() throws {
    for (axis, shapes) in [(1, [[1, 64, 33, 31], [1, 32, 33, 31]]), (2, [[2, 3, 40, 97], [2, 3, 1, 97], [2, 3, 150, 97]])] {
        let values = shapes.map { shape in (0..<shape.reduce(1, *)).map { Float($0 % 1000) } }
        let expected = try Concat(axis: axis).run(zip(shapes, values).map { Tensor(shape: $0, int64s: $1.map { Int64($0) }) })[0]
        for threads in [1, 2] {
            let y = try Parallel.withThreads(threads) { try Concat(axis: axis).run(zip(shapes, values).map { t($0, $1) })[0] }
            #expect(y.shape == expected.shape)
            #expect(try y.floats() == expected.int64s().map { Float($0) }, "axis \(axis) threads \(threads)")
        }
    }
}
