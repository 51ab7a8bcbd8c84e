import ManakoCore
import Testing

/// A ViT's last block after its attention, as the importer leaves it: x + proj(a), a position
/// table of rows added, LayerNorm, fc1, GELU, fc2, the residual Add, the final LayerNorm, and
/// the class token gathered (`index`). `extraOutput` also declares a value inside as an output.
private func transformerTail(tokens: Int, width: Int, index: Tensor, extraOutput: String? = nil)
    -> (nodes: [NodeSpec], constants: [String: Tensor], inputs: [ValueInfo], outputs: [ValueInfo]) {
    func packed(_ k: Int, _ n: Int, seed: UInt64) -> MatMul {
        var m = MatMul()
        let values = pseudoRandom(k * n, seed: seed).map { $0 * 0.3 }
        m.packedB = values.withUnsafeBufferPointer { PackedBGemm.PackedB($0.baseAddress!, depth: k, columns: n) }
        return m
    }
    func node(_ name: String, _ op: any Operator, _ inputs: [String]) -> NodeSpec {
        NodeSpec(name: name, opType: String(describing: type(of: op)), op: op, inputs: inputs, outputs: [name])
    }
    let hidden = 3 * width
    let constants: [String: Tensor] = [
        "index": index, "positions": t([tokens, width], pseudoRandom(tokens * width, seed: 71)),
        "scale": t([width], pseudoRandom(width, seed: 72).map { $0 + 1.5 }), "shift": t([width], pseudoRandom(width, seed: 73)),
    ]
    let nodes = [
        node("proj", packed(width, width, seed: 74), ["a", ""]),
        node("mid", Add(), ["x", "proj"]), node("placed", Add(), ["mid", "positions"]),
        node("normed", LayerNormalization(), ["placed", "scale", "shift"]),
        node("fc1", packed(width, hidden, seed: 75), ["normed", ""]), node("gelu", Gelu(), ["fc1"]),
        node("fc2", packed(hidden, width, seed: 76), ["gelu", ""]),
        node("out", Add(), ["placed", "fc2"]), node("final", LayerNormalization(), ["out", "scale", ""]),
        node("y", Gather(axis: 1), ["final", "index"]),
    ]
    let inputs = ["x", "a"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let outputs = (["y"] + (extraOutput.map { [$0] } ?? [])).map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    return (nodes, constants, inputs, outputs)
}

private func fuseRows(_ nodes: [NodeSpec], _ constants: [String: Tensor], _ outputs: [ValueInfo]) throws -> ([NodeSpec], Int) {
    var report = GraphOptimizer.Report()
    let fused = try GraphOptimizer.fuseGatheredRowRegions(nodes, constants: constants, outputNames: Set(outputs.map(\.name)),
                                                           report: &report)
    return (fused, report.gatheredRowRegions)
}

/// The tail fuses into one node, and on one row gives the unfused graph's numbers bit for bit:
/// the class token, the last token, one in between, scalar and one-element indices, batch 3.
@Test(arguments: [(0, true), (-1, true), (4, false)])
func gatheredRowRegionMatchesTheNodes(row: Int, scalarIndex: Bool) throws {
    let (batch, tokens, width) = (3, 7, 24)
    let index = scalarIndex ? Tensor(shape: [], int64s: [Int64(row)]) : Tensor(shape: [1], int64s: [Int64(row)])
    let (nodes, constants, inputs, outputs) = transformerTail(tokens: tokens, width: width, index: index)
    let (fused, count) = try fuseRows(nodes, constants, outputs)
    #expect(count == 1)
    #expect(fused.count == 1 && fused[0].op is GatheredRowRegion)
    #expect(Set(fused[0].inputs) == ["x", "a", "positions", "scale", "shift"])
    let feeds = ["x": t([batch, tokens, width], pseudoRandom(batch * tokens * width, seed: 77)),
                 "a": t([batch, tokens, width], pseudoRandom(batch * tokens * width, seed: 78))]
    let plain = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: nodes).run(feeds)["y"]!
    let region = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: fused)
    let fast = try region.run(feeds)["y"]!
    #expect(fast.shape == plain.shape)
    #expect(fast.shape == (scalarIndex ? [batch, width] : [batch, 1, width]))
    #expect(try fast.floats() == plain.floats())
    let op = fused[0].op as! GatheredRowRegion
    #expect(op.plan(fused[0].inputs.map { feeds[$0] ?? constants[$0] }) == "10 nodes on the gathered row alone (1 of 7)")
}

/// A batch axis in front (rank 4: the Gather's axis 1 is then not the row axis) runs every
/// row, as unfused; inputs of one token broadcast against the positions' rows still run on
/// one; an index out of range fails as the Gather does.
@Test func gatheredRowRegionRunsEveryRowWhenItMust() throws {
    let width = 8
    let (nodes, constants, inputs, outputs) = transformerTail(tokens: 5, width: width, index: Tensor(shape: [], int64s: [1]))
    let (fused, _) = try fuseRows(nodes, constants, outputs)
    let plain = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: nodes)
    let region = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: fused)
    // Rank 4, two images of 5 tokens: axis 1 is the image axis, so row 1 is the second image.
    let four = ["x": t([1, 2, 5, width], pseudoRandom(80, seed: 81)), "a": t([1, 2, 5, width], pseudoRandom(80, seed: 82))]
    #expect(try region.run(four)["y"]!.floats() == plain.run(four)["y"]!.floats())
    #expect(try region.run(four)["y"]!.shape == [1, 5, width])
    // Inputs of one token against the positions' 5 rows: row 1 is x's and a's only row plus position 1.
    let one = ["x": t([2, 1, width], pseudoRandom(16, seed: 83)), "a": t([2, 1, width], pseudoRandom(16, seed: 84))]
    #expect(try region.run(one)["y"]!.floats() == plain.run(one)["y"]!.floats())
    let (far, _, _, _) = transformerTail(tokens: 5, width: width, index: Tensor(shape: [], int64s: [9]))
    let farConstants = constants.merging(["index": Tensor(shape: [], int64s: [9])]) { $1 }
    let (farFused, _) = try fuseRows(far, farConstants, outputs)
    let feeds = ["x": t([2, 5, width], pseudoRandom(80, seed: 85)), "a": t([2, 5, width], pseudoRandom(80, seed: 86))]
    #expect(throws: ManakoError.self) {
        try Graph(inputs: inputs, outputs: outputs, constants: farConstants, nodes: farFused).run(feeds)
    }
}

/// A value inside that something else reads (here a graph output) stays outside the region,
/// with everything before it; a Gather with no MatMul before it is left alone.
@Test func gatheredRowRegionStopsAtOtherReaders() throws {
    let (nodes, constants, _, outputs) = transformerTail(tokens: 5, width: 8, index: Tensor(shape: [], int64s: [0]),
                                                         extraOutput: "placed")
    let (fused, count) = try fuseRows(nodes, constants, outputs)
    #expect(count == 1)
    #expect(Set(fused.map(\.name)) == ["proj", "mid", "placed", "y (gathered row)"])
    let (plainTail, plainConstants, _, plainOutputs) = transformerTail(tokens: 5, width: 8, index: Tensor(shape: [], int64s: [0]))
    let noMatMul = plainTail.filter { ["final", "y"].contains($0.name) }
    let (untouched, none) = try fuseRows(noMatMul, plainConstants, plainOutputs)
    #expect(none == 0 && untouched.count == 2)
}

/// An attention whose output reaches the region through a Reshape computes the gathered token's
/// query alone (token 2 here); every other row of its output is zero, and the region's output keeps the bits
/// of the graph with the attention fused but every row computed.
@Test func attentionBeforeAGatheredRowComputesThatQueryAlone() throws {
    let (batch, tokens, heads, depth) = (2, 9, 3, 8)
    let width = heads * depth
    let gathered = 2
    var (tail, constants, _, outputs) = transformerTail(tokens: tokens, width: width, index: Tensor(shape: [], int64s: [Int64(gathered)]))
    constants.merge([
        "split shape": Tensor(shape: [5], int64s: [0, 0, 3, Int64(heads), Int64(depth)]),
        "merged shape": Tensor(shape: [3], int64s: [0, 0, Int64(width)]),
        "thirds": Tensor(shape: [3], int64s: [1, 1, 1]), "axis 0": Tensor(shape: [1], int64s: [0]), "scale": Tensor(scalar: 0.35),
    ]) { $1 }
    func node(_ name: String, _ op: any Operator, _ inputs: [String], _ outputs: [String]? = nil) -> NodeSpec {
        NodeSpec(name: name, opType: String(describing: type(of: op)), op: op, inputs: inputs, outputs: outputs ?? [name])
    }
    let attention = [
        node("r", Reshape(), ["qkv", "split shape"]), node("t", Transpose(permutation: [2, 0, 3, 1, 4]), ["r"]),
        node("split", Split(axis: 0, outputCount: 3), ["t", "thirds"], ["q5", "k5", "v5"]),
        node("q", Squeeze(), ["q5", "axis 0"]), node("k", Squeeze(), ["k5", "axis 0"]), node("v", Squeeze(), ["v5", "axis 0"]),
        node("kt", Transpose(permutation: [0, 1, 3, 2]), ["k"]), node("scores", MatMul(), ["q", "kt"]),
        node("scaled", Mul(), ["scores", "scale"]), node("p", Softmax(axis: -1, coerce2D: false), ["scaled"]),
        node("o", MatMul(), ["p", "v"]), node("ot", Transpose(permutation: [0, 2, 1, 3]), ["o"]),
        node("a", Reshape(), ["ot", "merged shape"]),
    ]
    let inputs = ["x", "qkv"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let (viewed, fusedAttentions) = fuseAttention(attention + tail, constants: constants, outputs: outputs)
    #expect(fusedAttentions == 1)
    let (fused, regions) = try fuseRows(viewed, constants, outputs)
    #expect(regions == 1)
    let restricted = try #require(fused.first { $0.op is Attention })
    #expect((restricted.op as! Attention).onlyQueryRow?.row == gathered)
    #expect(restricted.inputs.last == "merged shape")
    let feeds = ["x": t([batch, tokens, width], pseudoRandom(batch * tokens * width, seed: 91)),
                 "qkv": t([batch, tokens, 3 * width], pseudoRandom(batch * tokens * 3 * width, seed: 92).map { $0 * 3 })]
    let everyRow = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: viewed).run(feeds)["y"]!
    let oneRow = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: fused).run(feeds)["y"]!
    #expect(try oneRow.floats() == everyRow.floats())
    let plain = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: attention + tail).run(feeds)["y"]!
    expectClose(try oneRow.floats(), try plain.floats(), tolerance: 2e-5, "gathered token after attention")
    // The attention's own output: the gathered row of each image as computed in full, the rest zero.
    let split = try Reshape().run([feeds["qkv"], constants["split shape"]])[0]
    let attentionInputs = restricted.inputs.map { $0 == "r" ? split : feeds[$0] ?? constants[$0] }
    let rowOnly = try restricted.op.run(attentionInputs)[0]
    var full = restricted.op as! Attention
    full.onlyQueryRow = nil
    let all = try full.run(attentionInputs)[0]
    #expect(rowOnly.shape == [batch, tokens, heads, depth])
    let (kept, every) = (try rowOnly.floats(), try all.floats())
    for b in 0..<batch {
        for token in 0..<tokens {
            let row = (b * tokens + token) * width
            if token == gathered {
                #expect(Array(kept[row..<(row + width)]) == Array(every[row..<(row + width)]))
            } else {
                #expect(kept[row..<(row + width)].allSatisfy { $0 == 0 })
            }
        }
    }
}

/// When the Reshape after it keeps the batch and row axes the attention computes one row (a
/// negative index counted from the end); otherwise, or for a row out of range, every row.
@Test func attentionQueryRowNeedsARowKeepingReshape() throws {
    var attention = Attention(query: .init(input: 0), key: .init(input: 1), value: .init(input: 2), scaleInputs: [],
                              headsAfterRows: true)
    let outputShape = [2, 5, 3, 4]
    func row(_ index: Int, _ requested: [Int64], allowZero: Bool = false) throws -> Int? {
        attention.onlyQueryRow = (index, 3, allowZero)
        let inputs: [Tensor?] = [nil, nil, nil, Tensor(shape: [requested.count], int64s: requested)]
        return try attention.queryRow(inputs, outputShape: outputShape)
    }
    #expect(try row(0, [0, 0, 12]) == 0)
    #expect(try row(-1, [2, 5, -1]) == 4)
    #expect(try row(3, [-1, 5, 12]) == 3)
    #expect(try row(0, [1, 10, 12]) == nil)     // the two images' rows interleaved
    #expect(try row(0, [2, 5, 3, 4]) == nil)    // rank 4: not the region's row axis
    #expect(try row(0, [0, 0, 12], allowZero: true) == nil)  // zero is a size then: no such shape
    #expect(try row(5, [0, 0, 12]) == nil)
    #expect(try row(-6, [0, 0, 12]) == nil)
}

/// The region's own graphs keep the model's element limit: a nested run would otherwise put the
/// default limit in force for its nodes.
@Test func gatheredRowRegionKeepsTheModelsElementLimit() throws {
    let (nodes, constants, inputs, outputs) = transformerTail(tokens: 5, width: 8, index: Tensor(shape: [], int64s: [0]))
    var report = GraphOptimizer.Report()
    let fused = try GraphOptimizer.fuseGatheredRowRegions(nodes, constants: constants, outputNames: Set(outputs.map(\.name)),
                                                           maxTensorElements: 20, report: &report)
    let feeds = ["x": t([2, 5, 8], pseudoRandom(80, seed: 95)), "a": t([2, 5, 8], pseudoRandom(80, seed: 96))]
    // The outer graph allows the inputs (80 elements); the region's fc1 on one row (2 x 1 x 24) does not.
    let graph = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: fused, maxTensorElements: 100)
    #expect(throws: ManakoError.self) { try graph.run(feeds) }
    let roomy = try fuseRows(nodes, constants, outputs).0
    #expect(try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: roomy, maxTensorElements: 100).run(feeds)["y"] != nil)
}
