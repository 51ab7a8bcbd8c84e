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

/// A LayerNormalization whose output only a MatMul with constant weights reads (and a Shape)
/// runs inside the MatMul, which normalises each range of rows as its GEMM reaches them: the
/// outputs are bit-identical to the same packed MatMul reading a written-out normalisation (kept
/// apart where its output is also a graph output), and within rounding of the plain graph; 1, 2
/// and 3 threads. Rows 1 to 2 x 197 (ranges of panels, partial panels), K up to 1001 (two slices
/// of B), with and without the normalisation's bias; the Shape reads X's shape (the same).
@Test(arguments: [([1, 7], 33, true), ([7, 13], 16, false), ([2, 197, 192], 40, true), ([130, 1001], 17, true)])
func layerNormsFuseIntoTheMatMulReadingThem(_ c: ([Int], Int, Bool)) throws {
    let (shape, n, hasBias) = c
    let k = shape.last!, rows = shape.dropLast().reduce(1, *)
    let constants: [String: Tensor] = [
        "scale": t([k], pseudoRandom(k, seed: 61)), "shift": t([k], pseudoRandom(k, seed: 62)),
        "w": t([k, n], pseudoRandom(k * n, seed: 63)), "bias": t([n], pseudoRandom(n, seed: 64)),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    func graph(normalizedIsOutput: Bool) throws -> (plain: Graph, fast: Graph, report: GraphOptimizer.Report, fused: [NodeSpec]) {
        let nodes = [
            NodeSpec(name: "norm", opType: "LayerNormalization", op: LayerNormalization(axis: -1, epsilon: 1e-5),
                     inputs: ["x", "scale"] + (hasBias ? ["shift"] : []), outputs: ["normalized"]),
            NodeSpec(name: "shape", opType: "Shape", op: ShapeOf(), inputs: ["normalized"], outputs: ["s"]),
            NodeSpec(name: "product", opType: "MatMul", op: MatMul(), inputs: ["normalized", "w"], outputs: ["p"]),
            NodeSpec(name: "add", opType: "Add", op: Add(), inputs: ["p", "bias"], outputs: ["y"]),
        ]
        let outputs = (["y", "s"] + (normalizedIsOutput ? ["normalized"] : [])).map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
        var optimizedConstants = constants
        let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &optimizedConstants, outputs: outputs)
        return (try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: nodes),
                try Graph(inputs: [input], outputs: outputs, constants: optimizedConstants, nodes: optimized), report, optimized)
    }
    let fused = try graph(normalizedIsOutput: false), apart = try graph(normalizedIsOutput: true)
    #expect(fused.report.layerNormsFusedIntoMatMuls == 1 && apart.report.layerNormsFusedIntoMatMuls == 0)
    #expect(!fused.fused.contains { $0.op is LayerNormalization })
    let feeds = ["x": t(shape, pseudoRandom(rows * k, seed: 65).map { $0 * 3 + 0.5 })]
    let expected = try fused.plain.run(feeds)
    let reference = try apart.fast.run(feeds)["y"]!.floats()
    for threads in [1, 2, 3] {
        let actual = try Parallel.withThreads(threads) { try fused.fast.run(feeds) }
        #expect(try actual["y"]!.floats() == reference, "\(c) on \(threads) threads: not the unfused packed MatMul's bits")
        #expect(try actual["s"]!.int64s() == shape.map(Int64.init))
        expectClose(try actual["y"]!.floats(), try expected["y"]!.floats(), tolerance: 1e-4, "\(c) against the plain graph")
    }
}
