import ManakoCore
import Testing

/// The fused attention kernel against its Double twin on awkward sizes (one row, one key,
/// rows not a multiple of six, keys not a multiple of sixteen: last key tiles of 1, 5, 7 and 8,
/// taken at half width, and of 9 and 15; depths of 1, 7 and 65, value depths apart from the
/// key depth, broadcast heads) with Q read through a transposed view,
/// K with its depth or its keys contiguous (the two packing paths), with and without a
/// position bias; one and two threads give the same bits.
@Test(arguments: [(1, 1, 1, 1, 1, 1), (1, 3, 7, 7, 64, 64), (2, 2, 13, 127, 7, 17), (1, 1, 127, 1001, 65, 16),
                  (3, 1, 6, 16, 8, 33), (1, 2, 197, 197, 64, 64), (1, 1, 9, 24, 5, 9)])
func attentionKernelMatchesReference(_ c: (Int, Int, Int, Int, Int, Int)) {
    let (batch, heads, t, s, d, e) = c
    let shape = AttentionKernel.Shape(batch: batch, heads: heads, queries: t, keys: s, depth: d, valueDepth: e)
    // Q stored as [batch][t][heads][d] (heads after rows, as a QKV projection writes them).
    let q = pseudoRandom(batch * t * heads * d, seed: 301).map { $0 * 3 }
    let k = pseudoRandom(batch * heads * s * d, seed: 302).map { $0 * 3 }
    // V shared by every head (stride 0): [batch][s][e].
    let v = pseudoRandom(batch * s * e, seed: 303)
    let qStrides = [t * heads * d, d, heads * d, 1], vStrides = [s * e, 0, e, 1]
    let outStrides = [heads * t * e, t * e, e, 1]
    // A position bias per head, shared by the batch: [heads][t][s].
    let bias = pseudoRandom(heads * t * s, seed: 305).map { $0 * 2 }, biasStrides = [0, t * s, s, 1]
    func attend(_ reference: Bool, threads: Int, biased: Bool, kStrides: [Int]) -> [Float] {
        var out = [Float](repeating: .nan, count: batch * heads * t * e)
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in bias.withUnsafeBufferPointer { bp in
            out.withUnsafeMutableBufferPointer { op in
                let (qv, kv, vv) = (AttentionKernel.View(base: qp.baseAddress!, strides: qStrides),
                                    AttentionKernel.View(base: kp.baseAddress!, strides: kStrides),
                                    AttentionKernel.View(base: vp.baseAddress!, strides: vStrides))
                let bv = biased ? AttentionKernel.View(base: bp.baseAddress!, strides: biasStrides) : nil
                Parallel.withThreads(threads) {
                    if reference {
                        AttentionKernel.referenceAttention(query: qv, key: kv, value: vv, scale: 0.125, bias: bv, shape: shape,
                                                           output: op.baseAddress!, outputStrides: outStrides)
                    } else {
                        AttentionKernel.run(query: qv, key: kv, value: vv, scale: 0.125, bias: bv, shape: shape, output: op.baseAddress!,
                                            outputStrides: outStrides)
                    }
                }
            }
        } } } }
        return out
    }
    // K as [batch][heads][s][d], or as [batch][heads][d][s] (Kᵀ stored as such).
    for (biased, kStrides) in [(false, [heads * s * d, s * d, d, 1]), (true, [heads * s * d, s * d, d, 1]), (false, [heads * s * d, s * d, 1, s])] {
        let expected = attend(true, threads: 1, biased: biased, kStrides: kStrides)
        let one = attend(false, threads: 1, biased: biased, kStrides: kStrides), two = attend(false, threads: 2, biased: biased, kStrides: kStrides)
        expectClose(one, expected, tolerance: 2e-6, "\(c), bias \(biased), K strides \(kStrides)")
        #expect(one == two, "\(c), bias \(biased), K strides \(kStrides): 1 and 2 threads differ")
    }
}

/// DeiT's attention as torch exports it (opset 17, dynamic batch): QKV reshaped, transposed,
/// split and squeezed into heads; the scale 1/sqrt(depth) computed from Shape(q) and applied to
/// Q and Kᵀ as two square roots; the product's heads moved back after its rows. One `Attention`
/// node replaces it all, with the same numbers as the plain graph; the Shape reads through the
/// view, so no Transpose or Split is left.
@Test func deitAttentionFuses() throws {
    let (batch, tokens, heads, depth) = (2, 11, 3, 8)
    let width = heads * depth
    let constants: [String: Tensor] = [
        "split shape": Tensor(shape: [5], int64s: [0, 0, 3, Int64(heads), Int64(depth)]),
        "merged shape": Tensor(shape: [3], int64s: [0, 0, Int64(width)]),
        "thirds": Tensor(shape: [3], int64s: [1, 1, 1]), "axis 0": Tensor(shape: [1], int64s: [0]),
        "last": Tensor(shape: [1], int64s: [-1]), "end": Tensor(shape: [1], int64s: [Int64.max]), "one": Tensor(scalar: 1),
    ]
    func node(_ name: String, _ op: any Operator, _ inputs: [String], _ outputs: [String]? = nil) -> NodeSpec {
        NodeSpec(name: name, opType: String(describing: type(of: op)), op: op, inputs: inputs, outputs: outputs ?? [name])
    }
    let nodes = [
        node("r", Reshape(), ["qkv", "split shape"]),
        node("t", Transpose(permutation: [2, 0, 3, 1, 4]), ["r"]),
        node("split", Split(axis: 0, outputCount: 3), ["t", "thirds"], ["q5", "k5", "v5"]),
        node("q", Squeeze(), ["q5", "axis 0"]), node("k", Squeeze(), ["k5", "axis 0"]), node("v", Squeeze(), ["v5", "axis 0"]),
        node("kt", Transpose(permutation: [0, 1, 3, 2]), ["k"]),
        node("shape", ShapeOf(), ["q"]), node("d", StridedSlice(), ["shape", "last", "end"]),
        node("df", Cast(to: .float32), ["d"]), node("root", Sqrt(), ["df"]), node("inverse", Div(), ["one", "root"]),
        node("half", Sqrt(), ["inverse"]),
        node("qs", Mul(), ["q", "half"]), node("ks", Mul(), ["kt", "half"]),
        node("scores", MatMul(), ["qs", "ks"]), node("p", Softmax(axis: -1, coerce2D: false), ["scores"]),
        node("o", MatMul(), ["p", "v"]), node("ot", Transpose(permutation: [0, 2, 1, 3]), ["o"]),
        node("y", Reshape(), ["ot", "merged shape"]),
    ]
    let input = ValueInfo(name: "qkv", elementType: .float32, shape: nil), outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil)]
    let (fused, count) = fuseAttention(nodes, constants: constants, outputs: outputs)
    #expect(count == 1)
    #expect(fused.filter { $0.op is Attention }.count == 1)
    #expect(!fused.contains { $0.op is Transpose || $0.op is Split || $0.op is Softmax || $0.op is MatMul })
    let feeds = ["qkv": Tensor(shape: [batch, tokens, 3 * width], floats: pseudoRandom(batch * tokens * 3 * width, seed: 304).map { $0 * 4 })]
    let plain = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: nodes).run(feeds)["y"]!
    let fast = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: fused).run(feeds)["y"]!
    #expect(fast.shape == [batch, tokens, width])
    expectClose(try fast.floats(), try plain.floats(), tolerance: 2e-6, "DeiT attention")
}

/// One head (rank 3), Kᵀ given as it is (no Transpose to follow), the scores divided by a
/// constant, the product read by something else than a Transpose: fused, same numbers. A
/// scale that may hold several numbers (a graph input) is not taken for a scalar: not fused.
@Test func singleHeadAttentionFusesAndVectorScalesDoNot() throws {
    let (tokens, keys, depth) = (9, 20, 5)
    let constants: [String: Tensor] = ["root d": Tensor(shape: [1], floats: [Float(depth).squareRoot()])]
    let names = ["q", "kt", "v", "w"]
    let shapes = [[2, tokens, depth], [2, depth, keys], [2, keys, 7], [1]]
    let inputs = names.map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil)]
    let feeds = Dictionary(uniqueKeysWithValues: zip(names, shapes).enumerated().map { i, pair in
        (pair.0, Tensor(shape: pair.1, floats: pseudoRandom(pair.1.reduce(1, *), seed: 310 + UInt64(i)).map { $0 * 2 }))
    })
    for scale in ["root d", "w"] {
        let nodes = [
            NodeSpec(name: "s", opType: "MatMul", op: MatMul(), inputs: ["q", "kt"], outputs: ["s"]),
            NodeSpec(name: "scaled", opType: "Div", op: Div(), inputs: ["s", scale], outputs: ["scaled"]),
            NodeSpec(name: "p", opType: "Softmax", op: Softmax(axis: -1, coerce2D: false), inputs: ["scaled"], outputs: ["p"]),
            NodeSpec(name: "o", opType: "MatMul", op: MatMul(), inputs: ["p", "v"], outputs: ["o"]),
            NodeSpec(name: "y", opType: "Relu", op: Relu(), inputs: ["o"], outputs: ["y"]),
        ]
        let (fused, count) = fuseAttention(nodes, constants: constants, outputs: outputs)
        #expect(count == (scale == "w" ? 0 : 1), "\(scale)")
        let plain = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: nodes).run(feeds)["y"]!
        let fast = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: fused).run(feeds)["y"]!
        #expect(fast.shape == [2, tokens, 7])
        expectClose(try fast.floats(), try plain.floats(), tolerance: 2e-6, "one head, scale \(scale)")
    }
}

/// Operands that do not fit (depths or key counts that differ, a view's bad split, a scale of
/// several numbers, broadcasting past the element limit) are errors that say what is wrong, not traps.
@Test func attentionRejectsMismatchedOperands() throws {
    let plain = Attention(query: .init(input: 0), key: .init(input: 1), value: .init(input: 2),
                          scaleInputs: [(3, false)], headsAfterRows: false)
    let q = t([1, 2, 4], pseudoRandom(8, seed: 1)), kt = t([1, 4, 3], pseudoRandom(12, seed: 2)), v = t([1, 3, 5], pseudoRandom(15, seed: 3))
    #expect(try plain.run([q, kt, v, Tensor(scalar: 0.5)])[0].shape == [1, 2, 5])
    #expect(throws: ManakoError.self) { try plain.run([q, t([1, 3, 3], pseudoRandom(9, seed: 4)), v, Tensor(scalar: 1)]) }
    #expect(throws: ManakoError.self) { try plain.run([q, kt, t([1, 4, 5], pseudoRandom(20, seed: 5)), Tensor(scalar: 1)]) }
    #expect(throws: ManakoError.self) { try plain.run([q, kt, v, t([2], [1, 2])]) }
    #expect(throws: ManakoError.self) { try plain.run([t([4], [1, 2, 3, 4]), kt, v, Tensor(scalar: 1)]) }
    // Heads broadcast against batches: a 2^27-element output, but 32 times that in packed keys
    // and values (one set per pair): refused before anything is allocated.
    #expect(throws: ManakoError.self) {
        try plain.run([t([16384, 1, 1, 1], [Float](repeating: 1, count: 16384)), t([1, 8192, 1, 1], [Float](repeating: 1, count: 8192)),
                       t([1, 8192, 1, 1], [Float](repeating: 1, count: 8192)), Tensor(scalar: 1)])
    }
    let badSplit = Attention(query: .init(input: 0, view: ViewChain(steps: [.split(axis: 1, part: 0, sizes: [5, 5], parts: 2)])),
                             key: .init(input: 1), value: .init(input: 2), scaleInputs: [], headsAfterRows: true)
    #expect(throws: ManakoError.self) { try badSplit.run([q, kt, v]) }
}

/// Swin's form: Softmax(Add(MatMul(Q · scale, Kᵀ), bias)). A per-head bias fuses into the
/// node; a bias with more batches than the scores (it widens them) fuses too but takes the
/// nodes' own route at run time. Same numbers as the plain graph either way.
@Test func biasedAttentionFuses() throws {
    let (heads, tokens, depth) = (3, 10, 6)
    let inputs = ["q", "kt", "v", "wide"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil)]
    let constants: [String: Tensor] = [
        "scale": Tensor(scalar: 0.4),
        "bias": Tensor(shape: [heads, tokens, tokens], floats: pseudoRandom(heads * tokens * tokens, seed: 320).map { $0 * 3 }),
    ]
    let shapes = [[1, heads, tokens, depth], [1, heads, depth, tokens], [1, heads, tokens, depth], [2, heads, tokens, tokens]]
    let feeds = Dictionary(uniqueKeysWithValues: zip(["q", "kt", "v", "wide"], shapes).enumerated().map { i, pair in
        (pair.0, Tensor(shape: pair.1, floats: pseudoRandom(pair.1.reduce(1, *), seed: 321 + UInt64(i)).map { $0 * 2 }))
    })
    for bias in ["bias", "wide"] {
        let nodes = [
            NodeSpec(name: "qs", opType: "Mul", op: Mul(), inputs: ["q", "scale"], outputs: ["qs"]),
            NodeSpec(name: "s", opType: "MatMul", op: MatMul(), inputs: ["qs", "kt"], outputs: ["s"]),
            NodeSpec(name: "b", opType: "Add", op: Add(), inputs: ["s", bias], outputs: ["b"]),
            NodeSpec(name: "p", opType: "Softmax", op: Softmax(axis: -1, coerce2D: false), inputs: ["b"], outputs: ["p"]),
            NodeSpec(name: "y", opType: "MatMul", op: MatMul(), inputs: ["p", "v"], outputs: ["y"]),
        ]
        let (fused, count) = fuseAttention(nodes, constants: constants, outputs: outputs)
        #expect(count == 1 && fused.count == 1, "\(bias)")
        let plain = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: nodes).run(feeds)["y"]!
        let fast = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: fused).run(feeds)["y"]!
        #expect(fast.shape == plain.shape, "\(bias)")
        expectClose(try fast.floats(), try plain.floats(), tolerance: 2e-6, "bias \(bias)")
    }
}

/// Rank-3 operands with a rank-4 bias: the output has rank 4, as the Add gave the unfused nodes.
@Test func aBiasOfHigherRankWidensTheOutput() throws {
    let (heads, tokens, depth) = (2, 5, 3)
    let q = t([heads, tokens, depth], pseudoRandom(heads * tokens * depth, seed: 330))
    let kt = t([heads, depth, tokens], pseudoRandom(heads * tokens * depth, seed: 331))
    let v = t([heads, tokens, depth], pseudoRandom(heads * tokens * depth, seed: 332))
    let bias = t([1, heads, tokens, tokens], pseudoRandom(heads * tokens * tokens, seed: 333))
    let attention = Attention(query: .init(input: 0), key: .init(input: 1), value: .init(input: 2), scaleInputs: [],
                              headsAfterRows: false, biasInput: 3)
    let fused = try attention.run([q, kt, v, bias])[0]
    let scores = try Add().run([try MatMul().run([q, kt])[0], bias])[0]
    let expected = try MatMul().run([try Softmax(axis: -1, coerce2D: false).run([scores])[0], v])[0]
    #expect(fused.shape == [1, heads, tokens, depth] && expected.shape == fused.shape)
    expectClose(try fused.floats(), try expected.floats(), tolerance: 2e-6, "rank-4 bias")
}

/// The view rewrites as the importer runs them; the nodes and the attentions fused.
func fuseAttention(_ nodes: [NodeSpec], constants: [String: Tensor], outputs: [ValueInfo]) -> ([NodeSpec], Int) {
    var (unused, report) = (constants, GraphOptimizer.Report())
    return (GraphOptimizer.readThroughViews(nodes, constants: &unused, outputs: outputs, report: &report), report.fusedAttentions)
}
