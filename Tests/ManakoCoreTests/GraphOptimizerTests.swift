import ManakoCore
import Testing

/// Conv -> BatchNormalization -> Identity -> Relu, plus a constant subgraph and a dead branch.
func optimizableGraph() -> ([NodeSpec], [String: Tensor]) {
    let constants: [String: Tensor] = [
        "w": Tensor(shape: [2, 1, 1, 1], floats: [2, -1]), "b": Tensor(shape: [2], floats: [0.5, 1]),
        "scale": Tensor(shape: [2], floats: [1.5, 0.5]), "shift": Tensor(shape: [2], floats: [0.1, -0.2]),
        "mean": Tensor(shape: [2], floats: [0.3, -0.4]), "var": Tensor(shape: [2], floats: [0.9, 1.7]),
        "two": Tensor(scalar: 2), "three": Tensor(scalar: 3),
    ]
    let nodes = [
        NodeSpec(name: "conv", opType: "Conv", op: Conv(), inputs: ["x", "w", "b"], outputs: ["c"]),
        NodeSpec(name: "bn", opType: "BatchNormalization", op: BatchNormalization(epsilon: 1e-3),
                 inputs: ["c", "scale", "shift", "mean", "var"], outputs: ["n"]),
        NodeSpec(name: "id", opType: "Identity", op: Identity(), inputs: ["n"], outputs: ["i"]),
        NodeSpec(name: "six", opType: "Mul", op: Mul(), inputs: ["two", "three"], outputs: ["k"]),
        NodeSpec(name: "scaled", opType: "Mul", op: Mul(), inputs: ["i", "k"], outputs: ["s"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["s"], outputs: ["y"]),
        NodeSpec(name: "dead", opType: "Relu", op: Relu(), inputs: ["x"], outputs: ["unused"]),
    ]
    return (nodes, constants)
}

@Test func optimizerFoldsAndRemovesWithoutChangingResults() throws {
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let output = ValueInfo(name: "y", elementType: .float32, shape: nil)
    let (nodes, original) = optimizableGraph()
    var constants = original
    let plain = try Graph(inputs: [input], outputs: [output], constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: [output])
    #expect(report.foldedBatchNorms == 1)
    #expect(report.foldedConstants == 1)
    #expect(report.removedPassThroughs == 1)
    #expect(report.removedDeadNodes == 1)
    #expect(optimized.map(\.opType) == ["Conv", "Mul", "Relu"])
    let fast = try Graph(inputs: [input], outputs: [output], constants: constants, nodes: optimized)
    let x = Tensor(shape: [1, 1, 2, 2], floats: [1, -2, 0.5, 3])
    expectClose(try fast.run(["x": x])["y"]!.floats(), try plain.run(["x": x])["y"]!.floats(), tolerance: 1e-6)
}

@Test func foldingErrorsNameTheNode() {
    var constants: [String: Tensor] = ["a": Tensor(shape: [2], floats: [1, 2]), "b": Tensor(shape: [3], floats: [1, 2, 3])]
    let nodes = [NodeSpec(name: "bad_add", opType: "Add", op: Add(), inputs: ["a", "b"], outputs: ["y"])]
    do {
        _ = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: [ValueInfo(name: "y", elementType: nil, shape: nil)])
        Issue.record("folded an impossible Add")
    } catch let e as ManakoError {
        #expect(e.message.contains("node 'bad_add' (Add)"))
    } catch {
        Issue.record("\(error)")
    }
}

@Test func activationsFuseIntoTheConvolutionWithoutChangingResults() throws {
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil), ValueInfo(name: "z", elementType: .float32, shape: nil)]
    let original: [String: Tensor] = ["w": Tensor(shape: [2, 1, 3, 3], floats: pseudoRandom(18, seed: 9)),
                                      "lo": Tensor(scalar: -0.1), "hi": Tensor(scalar: 0.2)]
    let nodes = [
        NodeSpec(name: "conv1", opType: "Conv", op: Conv(pads: [1, 1, 1, 1]), inputs: ["x", "w"], outputs: ["c1"]),
        NodeSpec(name: "clip", opType: "Clip", op: Clip(), inputs: ["c1", "lo", "hi"], outputs: ["y"]),
        NodeSpec(name: "conv2", opType: "Conv", op: Conv(), inputs: ["x", "w"], outputs: ["c2"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["c2"], outputs: ["z"]),
    ]
    var constants = original
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.fusedActivations == 2)
    #expect(optimized.map(\.opType) == ["Conv", "Conv"])
    let x = Tensor(shape: [1, 1, 5, 4], floats: pseudoRandom(20, seed: 10))
    let plain = try Graph(inputs: [input], outputs: outputs, constants: original, nodes: nodes).run(["x": x])
    let fused = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: optimized).run(["x": x])
    #expect(try fused["y"]!.floats() == plain["y"]!.floats())
    #expect(try fused["z"]!.floats() == plain["z"]!.floats())
}

@Test func zeroPadsFoldIntoTheConvolution() throws {
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let output = ValueInfo(name: "y", elementType: .float32, shape: nil)
    let original: [String: Tensor] = ["w": Tensor(shape: [3, 1, 3, 3], floats: pseudoRandom(27, seed: 11)),
                                      "pads": Tensor(shape: [8], int64s: [0, 0, 0, 1, 0, 0, 2, 1])]
    let nodes = [
        NodeSpec(name: "pad", opType: "Pad", op: Pad(), inputs: ["x", "pads"], outputs: ["p"]),
        NodeSpec(name: "dw", opType: "Conv", op: Conv(strides: [2, 2], group: 3), inputs: ["p", "w"], outputs: ["y"]),
    ]
    var constants = original
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: [output])
    #expect(report.foldedPads == 1 && optimized.count == 1)
    #expect((optimized[0].op as? Conv)?.pads == [0, 1, 2, 1])
    let x = Tensor(shape: [1, 3, 7, 6], floats: pseudoRandom(126, seed: 12))
    let plain = try Graph(inputs: [input], outputs: [output], constants: original, nodes: nodes).run(["x": x])["y"]!
    let folded = try Graph(inputs: [input], outputs: [output], constants: constants, nodes: optimized).run(["x": x])["y"]!
    #expect(folded.shape == plain.shape)
    expectClose(try folded.floats(), try plain.floats(), tolerance: 1e-6)
}

@Test func siluAndHardSwishFuseIntoTheConvolution() throws {
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil), ValueInfo(name: "z", elementType: .float32, shape: nil)]
    let original: [String: Tensor] = ["w": Tensor(shape: [2, 1, 1, 1], floats: [1.5, -0.7])]
    let nodes = [
        NodeSpec(name: "conv1", opType: "Conv", op: Conv(), inputs: ["x", "w"], outputs: ["c1"]),
        NodeSpec(name: "sigmoid", opType: "Sigmoid", op: Sigmoid(), inputs: ["c1"], outputs: ["s"]),
        NodeSpec(name: "swish", opType: "Mul", op: Mul(), inputs: ["s", "c1"], outputs: ["y"]),
        NodeSpec(name: "conv2", opType: "Conv", op: Conv(), inputs: ["x", "w"], outputs: ["c2"]),
        NodeSpec(name: "hardswish", opType: "HardSwish", op: HardSwish(), inputs: ["c2"], outputs: ["z"]),
    ]
    var constants = original
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.fusedActivations == 2)
    #expect(optimized.map { ($0.op as? Conv)?.activation } == [.silu, .hardSwish])
    let x = Tensor(shape: [1, 1, 3, 3], floats: pseudoRandom(9, seed: 13).map { $0 * 6 })
    let plain = try Graph(inputs: [input], outputs: outputs, constants: original, nodes: nodes).run(["x": x])
    let fused = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: optimized).run(["x": x])
    expectClose(try fused["y"]!.floats(), try plain["y"]!.floats(), tolerance: 1e-6)
    expectClose(try fused["z"]!.floats(), try plain["z"]!.floats(), tolerance: 1e-6)
}

/// A 3x3 stride-1 convolution with constant weights is prepared for Winograd and the GEMM at
/// load; a residual Add fuses into it; once shapes are known it keeps only what its output
/// size selects, and the results still match the unoptimised graph.
@Test func convolutionsKeepThePreparedWeightsTheirShapeSelects() throws {
    let out = ValueInfo(name: "y", elementType: .float32, shape: nil)
    for (size, expectWinograd) in [(28, true), (7, false)] {
        var constants: [String: Tensor] = ["w": Tensor(shape: [8, 8, 3, 3], floats: pseudoRandom(576, seed: 71))]
        let nodes = [
            NodeSpec(name: "conv", opType: "Conv", op: Conv(pads: [1, 1, 1, 1]), inputs: ["x", "w"], outputs: ["c"]),
            NodeSpec(name: "add", opType: "Add", op: Add(), inputs: ["c", "x"], outputs: ["s"]),
            NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["s"], outputs: ["y"]),
        ]
        let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(8), .fixed(size), .fixed(size)])
        let plain = try Graph(inputs: [input], outputs: [out], constants: constants, nodes: nodes)
        let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: [out])
        #expect(report.fusedResiduals == 1 && report.fusedActivations == 1 && report.winogradConvolutions == 1)
        let shapes = try Graph(inputs: [input], outputs: [out], constants: constants, nodes: optimized).inferShapes()
        let (kept, changed) = GraphOptimizer.keepPreparedWeightsInUse(optimized, shapes: shapes, constants: &constants, outputs: [out])
        let conv = try #require(kept.first?.op as? Conv)
        #expect(changed && (conv.winogradWeights != nil) == expectWinograd && (conv.packedWeights != nil) == !expectWinograd)
        // W itself is gone: the convolution keeps its shape, the graph no longer holds the constant.
        #expect(kept.first?.inputs[1] == "" && conv.weightShape == [8, 8, 3, 3] && constants["w"] == nil)
        let fast = try Graph(inputs: [input], outputs: [out], constants: constants, nodes: kept)
        let x = t([1, 8, size, size], pseudoRandom(8 * size * size, seed: 72))
        expectClose(try fast.run(["x": x])["y"]!.floats(), try plain.run(["x": x])["y"]!.floats(), tolerance: 5e-4, "size \(size)")
    }
}

/// MatMul with a constant B packs B, and Add(MatMul, constant [1, N]) folds into its epilogue as
/// a column bias; a bias of another shape (a full [M, N] matrix) stays an Add. Same numbers.
@Test func matMulBiasFusesIntoThePackedProduct() throws {
    let (m, k, n) = (5, 7, 19)
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil), ValueInfo(name: "z", elementType: .float32, shape: nil)]
    let original: [String: Tensor] = [
        "b": Tensor(shape: [k, n], floats: pseudoRandom(k * n, seed: 61)),
        "bias": Tensor(shape: [1, n], floats: pseudoRandom(n, seed: 62)),
        "full": Tensor(shape: [m, n], floats: pseudoRandom(m * n, seed: 63)),
    ]
    let nodes = [
        NodeSpec(name: "mm", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["p"]),
        NodeSpec(name: "add", opType: "Add", op: Add(), inputs: ["bias", "p"], outputs: ["y"]),
        NodeSpec(name: "mm2", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["q"]),
        NodeSpec(name: "add2", opType: "Add", op: Add(), inputs: ["q", "full"], outputs: ["z"]),
    ]
    var constants = original
    let plain = try Graph(inputs: [input], outputs: outputs, constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.packedMatMuls == 2 && report.fusedMatMulBiases == 1)
    #expect(optimized.map(\.opType) == ["MatMul", "MatMul", "Add"])
    let fast = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: optimized)
    let x = Tensor(shape: [m, k], floats: pseudoRandom(m * k, seed: 64))
    let (expected, actual) = (try plain.run(["x": x]), try fast.run(["x": x]))
    for name in ["y", "z"] { expectClose(try actual[name]!.floats(), try expected[name]!.floats(), tolerance: 1e-5, name) }
}

/// A transformer's shortcut: Add(MatMul(A, B) + bias, r) with r computed becomes the packed
/// MatMul's residual (a Relu after it then fuses too); a residual that broadcasts ([1, N] against
/// [M, N]) is added as the Add did; a MatMul whose output something else also reads, or whose
/// activation comes before the Add, keeps its Add. Same numbers as the plain graph, 1 and 2 threads.
@Test func matMulResidualFusesIntoThePackedProduct() throws {
    let (m, k, n) = (13, 7, 19)
    let inputs = [ValueInfo(name: "x", elementType: .float32, shape: nil), ValueInfo(name: "r", elementType: .float32, shape: nil),
                  ValueInfo(name: "row", elementType: .float32, shape: nil)]
    let names = ["y", "z", "w", "v"]
    let outputs = names.map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let original: [String: Tensor] = [
        "b": Tensor(shape: [k, n], floats: pseudoRandom(k * n, seed: 161)),
        "bias": Tensor(shape: [n], floats: pseudoRandom(n, seed: 162)),
    ]
    let nodes = [
        NodeSpec(name: "mm", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["p"]),
        NodeSpec(name: "bias", opType: "Add", op: Add(), inputs: ["p", "bias"], outputs: ["pb"]),
        NodeSpec(name: "shortcut", opType: "Add", op: Add(), inputs: ["r", "pb"], outputs: ["s"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["s"], outputs: ["y"]),
        NodeSpec(name: "mm2", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["q"]),
        NodeSpec(name: "broadcast", opType: "Add", op: Add(), inputs: ["q", "row"], outputs: ["z"]),
        NodeSpec(name: "mm3", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["w"]),
        NodeSpec(name: "read twice", opType: "Add", op: Add(), inputs: ["w", "r"], outputs: ["v0"]),
        NodeSpec(name: "mm4", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["u"]),
        NodeSpec(name: "relu first", opType: "Relu", op: Relu(), inputs: ["u"], outputs: ["ur"]),
        NodeSpec(name: "after relu", opType: "Add", op: Add(), inputs: ["ur", "v0"], outputs: ["v"]),
    ]
    var constants = original
    let plain = try Graph(inputs: inputs, outputs: outputs, constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.fusedMatMulBiases == 1 && report.fusedMatMulResiduals == 2)
    #expect(optimized.map(\.opType) == ["MatMul", "MatMul", "MatMul", "Add", "MatMul", "Add"])
    let products = optimized.compactMap { $0.op as? MatMul }
    #expect(products.map(\.addsResidual) == [true, true, false, false] && products.map(\.activation) == [.relu, .none, .none, .relu])
    let fast = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: optimized)
    let feeds = ["x": Tensor(shape: [m, k], floats: pseudoRandom(m * k, seed: 164)),
                 "r": Tensor(shape: [m, n], floats: pseudoRandom(m * n, seed: 165)),
                 "row": Tensor(shape: [1, n], floats: pseudoRandom(n, seed: 166))]
    let expected = try plain.run(feeds)
    var results: [[Float]] = []
    for threads in [1, 2] {
        let actual = try Parallel.withThreads(threads) { try fast.run(feeds) }
        for name in names {
            #expect(actual[name]?.shape == expected[name]?.shape, "\(name) shape")
            expectClose(try actual[name]!.floats(), try expected[name]!.floats(), tolerance: 1e-5, "\(name), \(threads) threads")
        }
        results.append(try names.flatMap { try actual[$0]!.floats() })
    }
    #expect(results[0] == results[1], "1 vs 2 threads differ")
}

/// torch's exact GELU (Div by sqrt 2, Erf, Add 1, Mul by x, Mul by 0.5) after a MatMul and its
/// bias, and an ONNX Gelu node after a Conv, both become the producer's GELU activation; a
/// pattern with the wrong constant (Add 2) is left alone. Same numbers as the plain graph.
@Test func geluFusesIntoMatMulAndConv() throws {
    let (m, k, n) = (4, 6, 11)
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let image = ValueInfo(name: "img", elementType: .float32, shape: nil)
    let outputs = ["y", "z", "w"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let original: [String: Tensor] = [
        "b": Tensor(shape: [k, n], floats: pseudoRandom(k * n, seed: 71).map { $0 * 2 }),
        "bias": Tensor(shape: [n], floats: pseudoRandom(n, seed: 72)),
        "root2": Tensor(scalar: 1.4142135), "one": Tensor(scalar: 1), "two": Tensor(scalar: 2), "half": Tensor(scalar: 0.5),
        "cw": Tensor(shape: [3, 2, 1, 1], floats: pseudoRandom(6, seed: 73)),
    ]
    func gelu(_ x: String, _ add: String, _ out: String, _ tag: String) -> [NodeSpec] {
        [NodeSpec(name: "div" + tag, opType: "Div", op: Div(), inputs: [x, "root2"], outputs: ["d" + tag]),
         NodeSpec(name: "erf" + tag, opType: "Erf", op: Erf(), inputs: ["d" + tag], outputs: ["e" + tag]),
         NodeSpec(name: "add" + tag, opType: "Add", op: Add(), inputs: [add, "e" + tag], outputs: ["a" + tag]),
         NodeSpec(name: "mul" + tag, opType: "Mul", op: Mul(), inputs: [x, "a" + tag], outputs: ["m" + tag]),
         NodeSpec(name: "half" + tag, opType: "Mul", op: Mul(), inputs: ["m" + tag, "half"], outputs: [out])]
    }
    let nodes = [
        NodeSpec(name: "mm", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["p"]),
        NodeSpec(name: "bias", opType: "Add", op: Add(), inputs: ["p", "bias"], outputs: ["pb"]),
    ] + gelu("pb", "one", "y", "1") + [
        NodeSpec(name: "mm2", opType: "MatMul", op: MatMul(), inputs: ["x", "b"], outputs: ["q"]),
    ] + gelu("q", "two", "z", "2") + [
        NodeSpec(name: "conv", opType: "Conv", op: Conv(), inputs: ["img", "cw"], outputs: ["c"]),
        NodeSpec(name: "gelu", opType: "Gelu", op: Gelu(), inputs: ["c"], outputs: ["w"]),
    ]
    var constants = original
    let plain = try Graph(inputs: [input, image], outputs: outputs, constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.fusedActivations == 2 && report.fusedMatMulBiases == 1)
    #expect(optimized.compactMap { $0.op as? MatMul }.map(\.activation) == [.gelu, .none])
    #expect((optimized.first { $0.opType == "Conv" }?.op as? Conv)?.activation == .gelu)
    let fast = try Graph(inputs: [input, image], outputs: outputs, constants: constants, nodes: optimized)
    let feeds = ["x": Tensor(shape: [m, k], floats: pseudoRandom(m * k, seed: 74).map { $0 * 3 }),
                 "img": Tensor(shape: [1, 2, 3, 5], floats: pseudoRandom(30, seed: 75).map { $0 * 3 })]
    let (expected, actual) = (try plain.run(feeds), try fast.run(feeds))
    for name in ["y", "z", "w"] { expectClose(try actual[name]!.floats(), try expected[name]!.floats(), tolerance: 1e-5, name) }
}

/// DenseNet's Concat -> BatchNormalization -> Relu: the normalisation and its ReLU move into
/// the Concat's copy; a Concat whose output is also read elsewhere keeps its BatchNormalization.
/// Same numbers as the plain graph, on 1 and 2 threads.
@Test func batchNormFusesIntoTheConcatBeforeIt() throws {
    let channels = [3, 5]
    let original: [String: Tensor] = [
        "scale": Tensor(shape: [8], floats: pseudoRandom(8, seed: 81)), "shift": Tensor(shape: [8], floats: pseudoRandom(8, seed: 82)),
        "mean": Tensor(shape: [8], floats: pseudoRandom(8, seed: 83)), "var": Tensor(shape: [8], floats: pseudoRandom(8, seed: 84).map { $0 + 1.5 }),
    ]
    let inputs = [ValueInfo(name: "a", elementType: .float32, shape: nil), ValueInfo(name: "b", elementType: .float32, shape: nil)]
    let outputs = ["y", "z", "c2"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let bn = { (input: String, output: String) in
        NodeSpec(name: output, opType: "BatchNormalization", op: BatchNormalization(epsilon: 1e-5),
                 inputs: [input, "scale", "shift", "mean", "var"], outputs: [output])
    }
    let nodes = [
        NodeSpec(name: "cat", opType: "Concat", op: Concat(axis: 1), inputs: ["a", "b"], outputs: ["c"]),
        bn("c", "n"),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["n"], outputs: ["y"]),
        NodeSpec(name: "cat2", opType: "Concat", op: Concat(axis: 1), inputs: ["b", "a"], outputs: ["c2"]),
        bn("c2", "z"),
    ]
    var constants = original
    let plain = try Graph(inputs: inputs, outputs: outputs, constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.batchNormsFusedIntoConcats == 1)
    #expect(optimized.map(\.opType) == ["Concat", "Concat", "BatchNormalization"])
    let fast = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: optimized)
    let feeds = ["a": Tensor(shape: [2, channels[0], 90, 100], floats: pseudoRandom(2 * 3 * 9000, seed: 85).map { $0 * 3 }),
                 "b": Tensor(shape: [2, channels[1], 90, 100], floats: pseudoRandom(2 * 5 * 9000, seed: 86).map { $0 * 3 })]
    let expected = try plain.run(feeds)
    for threads in [1, 2] {
        let actual = try Parallel.withThreads(threads) { try fast.run(feeds) }
        for name in ["y", "z", "c2"] { expectClose(try actual[name]!.floats(), try expected[name]!.floats(), tolerance: 1e-5, "\(name) \(threads)") }
    }
}

/// Concat -> BatchNormalization -> Relu -> 1x1 Conv (DenseNet): the convolution reads the
/// Concat's parts where they are, through the fused normalisation; a plain Concat -> 1x1 Conv
/// (SqueezeNet's fire modules) too. A Concat that is a graph
/// output, or whose convolution adds a residual, stays. Same numbers as the plain graph, batch 2,
/// on 1 and 2 threads.
@Test func concatFusesIntoThePointwiseConvReadingIt() throws {
    let original: [String: Tensor] = [
        "scale": Tensor(shape: [8], floats: pseudoRandom(8, seed: 181)), "shift": Tensor(shape: [8], floats: pseudoRandom(8, seed: 182)),
        "mean": Tensor(shape: [8], floats: pseudoRandom(8, seed: 183)), "var": Tensor(shape: [8], floats: pseudoRandom(8, seed: 184).map { $0 + 1.5 }),
        "w": Tensor(shape: [11, 8, 1, 1], floats: pseudoRandom(88, seed: 185)), "wb": Tensor(shape: [11], floats: pseudoRandom(11, seed: 186)),
        "w2": Tensor(shape: [5, 8, 1, 1], floats: pseudoRandom(40, seed: 187)),
    ]
    let inputs = ["a", "b"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let outputs = ["y", "z", "c2", "z4", "z5"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let nodes = [
        NodeSpec(name: "cat", opType: "Concat", op: Concat(axis: 1), inputs: ["a", "b"], outputs: ["c"]),
        NodeSpec(name: "bn", opType: "BatchNormalization", op: BatchNormalization(epsilon: 1e-5),
                 inputs: ["c", "scale", "shift", "mean", "var"], outputs: ["n"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["n"], outputs: ["r"]),
        NodeSpec(name: "conv", opType: "Conv", op: Conv(), inputs: ["r", "w", "wb"], outputs: ["y"]),
        NodeSpec(name: "cat2", opType: "Concat", op: Concat(axis: 1), inputs: ["b", "a"], outputs: ["c2"]),
        NodeSpec(name: "conv2", opType: "Conv", op: Conv(), inputs: ["c2", "w2"], outputs: ["z"]),
        NodeSpec(name: "cat3", opType: "Concat", op: Concat(axis: 1), inputs: ["a", "b"], outputs: ["c3"]),
        NodeSpec(name: "conv3", opType: "Conv", op: Conv(), inputs: ["c3", "w2"], outputs: ["z3"]),
        NodeSpec(name: "add", opType: "Add", op: Add(), inputs: ["z3", "z"], outputs: ["z4"]),
        NodeSpec(name: "cat4", opType: "Concat", op: Concat(axis: 1), inputs: ["b", "a"], outputs: ["c4"]),
        NodeSpec(name: "conv4", opType: "Conv", op: Conv(), inputs: ["c4", "w2"], outputs: ["z5"]),
    ]
    var constants = original
    let plain = try Graph(inputs: inputs, outputs: outputs, constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.concatsFusedIntoConvolutions == 2 && report.batchNormsFusedIntoConcats == 1 && report.fusedResiduals == 1)
    #expect(optimized.filter { $0.opType == "Concat" }.map(\.name) == ["cat2", "cat3"])
    let fused = optimized.first { $0.name == "conv" }?.op as? Conv
    #expect(fused?.inputParts == 2 && fused?.inputAffine?.activation == .relu)
    let fast = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: optimized)
    let feeds = ["a": Tensor(shape: [2, 3, 9, 13], floats: pseudoRandom(2 * 3 * 117, seed: 188).map { $0 * 3 }),
                 "b": Tensor(shape: [2, 5, 9, 13], floats: pseudoRandom(2 * 5 * 117, seed: 189).map { $0 * 3 })]
    let expected = try plain.run(feeds)
    for threads in [1, 2] {
        let actual = try Parallel.withThreads(threads) { try fast.run(feeds) }
        for name in ["y", "z", "c2", "z4", "z5"] { expectClose(try actual[name]!.floats(), try expected[name]!.floats(), tolerance: 1e-5, "\(name) \(threads)") }
    }
    // Parts that disagree on the plane are refused with an error, not a trap.
    #expect(throws: ManakoError.self) {
        try fast.run(["a": Tensor(shape: [2, 3, 9, 12], floats: pseudoRandom(2 * 3 * 108, seed: 190)), "b": feeds["b"]!])
    }
}

/// SqueezeNet's fire module ends in a Concat that a max pool reads: the pool moves onto each part,
/// the Concat joins the pooled parts and folds into the 1x1 convolution after it. An average pool
/// moves too; a Concat read by something else besides the pool stays where it is.
@Test func poolsMoveBeforeTheirConcats() throws {
    let original: [String: Tensor] = ["w": Tensor(shape: [6, 8, 1, 1], floats: pseudoRandom(48, seed: 191))]
    let inputs = ["a", "b"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let outputs = ["y", "avg", "kept", "c3"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let nodes = [
        NodeSpec(name: "cat", opType: "Concat", op: Concat(axis: 1), inputs: ["a", "b"], outputs: ["c"]),
        NodeSpec(name: "pool", opType: "MaxPool", op: MaxPool(kernelShape: [3, 3], strides: [2, 2], ceilMode: true),
                 inputs: ["c"], outputs: ["p"]),
        NodeSpec(name: "conv", opType: "Conv", op: Conv(), inputs: ["p", "w"], outputs: ["y"]),
        NodeSpec(name: "cat2", opType: "Concat", op: Concat(axis: 1), inputs: ["b", "a"], outputs: ["c2"]),
        NodeSpec(name: "avgpool", opType: "AveragePool", op: AveragePool(kernelShape: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0]),
                 inputs: ["c2"], outputs: ["avg"]),
        NodeSpec(name: "cat3", opType: "Concat", op: Concat(axis: 1), inputs: ["a", "b"], outputs: ["c3"]),
        NodeSpec(name: "pool3", opType: "MaxPool", op: MaxPool(kernelShape: [2, 2]), inputs: ["c3"], outputs: ["kept"]),
    ]
    var constants = original
    let plain = try Graph(inputs: inputs, outputs: outputs, constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.poolsMovedBeforeConcats == 2 && report.concatsFusedIntoConvolutions == 1)
    #expect(optimized.filter { $0.opType == "Concat" }.map(\.inputs) == [["avg/part0", "avg/part1"], ["a", "b"]])
    #expect(optimized.filter { $0.opType == "MaxPool" }.map(\.inputs) == [["a"], ["b"], ["c3"]])
    let fast = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: optimized)
    let feeds = ["a": Tensor(shape: [2, 3, 11, 13], floats: pseudoRandom(2 * 3 * 143, seed: 192)),
                 "b": Tensor(shape: [2, 5, 11, 13], floats: pseudoRandom(2 * 5 * 143, seed: 193))]
    let expected = try plain.run(feeds), actual = try fast.run(feeds)
    for name in ["y", "avg", "kept", "c3"] {
        #expect(try actual[name]!.shape == expected[name]!.shape)
        expectClose(try actual[name]!.floats(), try expected[name]!.floats(), tolerance: 1e-5, name)
    }
}

/// A LayerNorm written out as torch exports it below opset 17 (ReduceMean, Sub, Pow 2,
/// ReduceMean, Add eps, Sqrt, Div, Mul scale, Add bias) becomes one LayerNormalization; the
/// Mul(d, d) form without a bias fuses too; one whose mean is over another axis is left alone.
/// Same numbers as the plain graph.
@Test func writtenOutLayerNormsFuse() throws {
    let (rows, width) = (5, 19)
    let input = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let outputs = ["y", "z", "w"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let original: [String: Tensor] = [
        "two": Tensor(scalar: 2), "eps": Tensor(scalar: 1e-5),
        "gamma": Tensor(shape: [width], floats: pseudoRandom(width, seed: 91)),
        "beta": Tensor(shape: [width], floats: pseudoRandom(width, seed: 92)),
        "gammaRows": Tensor(shape: [rows, 1], floats: pseudoRandom(rows, seed: 93)),
    ]
    func layerNorm(_ tag: String, axes: [Int], squareWithMul: Bool, scale: String, bias: String?, output: String) -> [NodeSpec] {
        let square = squareWithMul
            ? NodeSpec(name: "sq" + tag, opType: "Mul", op: Mul(), inputs: ["d" + tag, "d" + tag], outputs: ["s" + tag])
            : NodeSpec(name: "sq" + tag, opType: "Pow", op: Pow(), inputs: ["d" + tag, "two"], outputs: ["s" + tag])
        let scaled = bias == nil ? output : "g" + tag
        return [
            NodeSpec(name: "m" + tag, opType: "ReduceMean", op: ReduceMean(axes: axes), inputs: ["x"], outputs: ["m" + tag]),
            NodeSpec(name: "sub" + tag, opType: "Sub", op: Sub(), inputs: ["x", "m" + tag], outputs: ["d" + tag]),
            square,
            NodeSpec(name: "v" + tag, opType: "ReduceMean", op: ReduceMean(axes: axes), inputs: ["s" + tag], outputs: ["v" + tag]),
            NodeSpec(name: "e" + tag, opType: "Add", op: Add(), inputs: ["v" + tag, "eps"], outputs: ["e" + tag]),
            NodeSpec(name: "r" + tag, opType: "Sqrt", op: Sqrt(), inputs: ["e" + tag], outputs: ["r" + tag]),
            NodeSpec(name: "n" + tag, opType: "Div", op: Div(), inputs: ["d" + tag, "r" + tag], outputs: ["n" + tag]),
            NodeSpec(name: "g" + tag, opType: "Mul", op: Mul(), inputs: ["n" + tag, scale], outputs: [scaled]),
        ] + (bias.map { [NodeSpec(name: "b" + tag, opType: "Add", op: Add(), inputs: [scaled, $0], outputs: [output])] } ?? [])
    }
    let nodes = layerNorm("1", axes: [-1], squareWithMul: false, scale: "gamma", bias: "beta", output: "y")
        + layerNorm("2", axes: [-1], squareWithMul: true, scale: "gamma", bias: nil, output: "z")
        + layerNorm("3", axes: [0], squareWithMul: false, scale: "gammaRows", bias: nil, output: "w")
    var constants = original
    let plain = try Graph(inputs: [input], outputs: outputs, constants: original, nodes: nodes)
    let (optimized, report) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    #expect(report.fusedLayerNorms == 2)
    #expect(optimized.filter { $0.op is LayerNormalization }.map(\.inputs) == [["x", "gamma", "beta"], ["x", "gamma"]])
    #expect(optimized.count == 2 + 8)
    let fast = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: optimized)
    let feeds = ["x": Tensor(shape: [rows, width], floats: pseudoRandom(rows * width, seed: 94).map { $0 * 4 + 1 })]
    let (expected, actual) = (try plain.run(feeds), try fast.run(feeds))
    for name in ["y", "z", "w"] { expectClose(try actual[name]!.floats(), try expected[name]!.floats(), tolerance: 1e-5, name) }
}
