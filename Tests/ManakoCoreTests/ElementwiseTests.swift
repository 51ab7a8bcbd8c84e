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
