import ManakoCore
import Testing

@Test func matMulHandWorked() throws {
    // Batched with broadcast: [2,1,2] x [2,1] -> [2,1,1].
    let y = try run(MatMul(), t([2, 1, 2], [1, 2, 3, 4]), t([2, 1], [10, 1]))
    #expect(y.shape == [2, 1, 1])
    #expect(try y.floats() == [12, 34])
    // Vector x matrix drops the promoted axis.
    let v = try run(MatMul(), t([2], [1, 1]), t([2, 3], [1, 2, 3, 4, 5, 6]))
    #expect(try v.shape == [3] && v.floats() == [5, 7, 9])
}
