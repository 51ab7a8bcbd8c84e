import Testing
import ManakoCore

@Test func reluClampsNegatives() throws {
    let y = try Relu().run([Tensor(shape: [3], floats: [-1, 0, 2])])
    #expect(try y[0].floats() == [0, 0, 2])
}
