import ManakoCore
import Testing

/// LayerNormalization against a plain Double computation on awkward row lengths (1, 7, 127,
/// 1001) and row counts (1, 3, 197), with and without a bias, and the Mean and InvStdDev
/// outputs; 1 and 2 threads give the same bits.
@Test(arguments: [(1, 1), (3, 7), (197, 127), (2, 1001), (197, 192)])
func layerNormalizationMatchesDefinition(_ c: (Int, Int)) throws {
    let (rows, width) = c
    let x = pseudoRandom(rows * width, seed: 41).map { $0 * 4 + 1 }
    let scale = pseudoRandom(width, seed: 42), bias = pseudoRandom(width, seed: 43)
    let epsilon: Float = 1e-5
    var expected = [Float](), means = [Float](), inverses = [Float]()
    for r in 0..<rows {
        let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
        let mean = row.reduce(0, +) / Double(width)
        let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
        let inv = 1 / (variance + Double(epsilon)).squareRoot()
        expected += row.indices.map { Float(($0 < row.count ? (row[$0] - mean) * inv : 0) * Double(scale[$0]) + Double(bias[$0])) }
        means.append(Float(mean))
        inverses.append(Float(inv))
    }
    let op = LayerNormalization(axis: -1, epsilon: epsilon)
    let inputs = [t([rows, width], x), t([width], scale), t([width], bias)]
    let one = try Parallel.withThreads(1) { try op.run(inputs) }, two = try Parallel.withThreads(2) { try op.run(inputs) }
    #expect(try one[0].floats() == two[0].floats(), "\(c): 1 and 2 threads differ")
    expectClose(try one[0].floats(), expected, tolerance: 2e-5, "\(c)")
    #expect(one[1].shape == [rows, 1] && one[2].shape == [rows, 1])
    expectClose(try one[1].floats(), means, tolerance: 1e-5, "\(c) mean")
    expectClose(try one[2].floats(), inverses, tolerance: 1e-4, "\(c) inverse standard deviation")
    // No bias: the same without the shift.
    let unbiased = try op.run([t([rows, width], x), t([width], scale)])[0]
    expectClose(try unbiased.floats(), zip(expected, (0..<(rows * width)).map { bias[$0 % width] }).map { $0 - $1 },
                tolerance: 2e-5, "\(c) without bias")
}
