import ManakoCore
import Testing

/// The fused expansion and depthwise convolution against the seven-loop twin run twice (1x1,
/// activation, depthwise, activation): 3x3 and 5x5 at stride 1 and 2, symmetric and uneven
/// padding, half tiles of sixteen channels, two slices of k, several bands of rows (edges at
/// every band; on two threads an even count of them), batch 2; 1 and 2 threads give the same bits.
@Test(arguments: [
    // (batch, inChannels, expanded, height, width, kernel, stride, pads)
    (2, 16, 24, 13, 11, 3, 2, [1, 1, 1, 1]),
    (1, 8, 40, 9, 30, 5, 1, [2, 2, 2, 2]),
    (1, 24, 48, 17, 9, 3, 1, [0, 1, 1, 0]),
    (1, 264, 16, 6, 7, 3, 1, [1, 1, 1, 1]),
    (1, 8, 24, 20, 200, 3, 1, [1, 1, 1, 1]),
    (1, 16, 16, 21, 200, 3, 2, [1, 1, 1, 1]),
    (1, 8, 8, 12, 150, 5, 2, [2, 1, 2, 1]),
])
func expandDepthwiseMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, [Int])) throws {
    let (n, cin, e, h, w, k, s, pads) = c
    let expansion = try WindowGeometry(input: [n, cin, h, w], kernel: (1, 1), strides: (1, 1), dilations: (1, 1), pads: [0, 0, 0, 0],
                                       autoPad: .explicit)
    let g = try WindowGeometry(input: [n, e, h, w], kernel: (k, k), strides: (s, s), dilations: (1, 1), pads: pads, autoPad: .explicit)
    #expect(ExpandDepthwiseKernel.applies(g))
    let x = pseudoRandom(n * cin * h * w, seed: 111)
    let expandWeights = pseudoRandom(e * cin, seed: 112).map { $0 / 4 }, expandBias = pseudoRandom(e, seed: 113)
    let depthwiseWeights = pseudoRandom(e * k * k, seed: 114), depthwiseBias = pseudoRandom(e, seed: 115)
    let packed = BlockedGemmConvKernel.packWeights(expandWeights, outChannels: e, inChannels: cin)
    let filters = BlockedDepthwiseKernel.packWeights(depthwiseWeights, channels: e, taps: k * k)
    let pairs: [(FusedActivation, FusedActivation)] = [(.clip(min: 0, max: 6), .none), (.silu, .relu), (.none, .hardSwish)]
    for (first, second) in pairs {
        var expanded = ConvKernels.reference(input: x, weights: expandWeights, bias: expandBias, geometry: expansion, outChannels: e, groups: 1)
        expanded = expanded.map(scalarActivation(first))
        var expected = ConvKernels.reference(input: expanded, weights: depthwiseWeights, bias: depthwiseBias, geometry: g,
                                             outChannels: e, groups: e)
        expected = expected.map(scalarActivation(second))
        let results = [1, 2].map { threads in
            Parallel.withThreads(threads) {
                throughBlocks(n, e, g.outHeight * g.outWidth, [(x, cin, h * w)]) { p, out in
                    expandBias.withUnsafeBufferPointer { eb in
                        depthwiseBias.withUnsafeBufferPointer { db in
                            filters.withUnsafeBufferPointer { f in
                                ExpandDepthwiseKernel.run(p[0], expandWeights: packed, expandBias: eb.baseAddress!, expandActivation: first,
                                                          depthwise: g, depthwiseWeights: f.baseAddress!, depthwiseBias: db.baseAddress!,
                                                          depthwiseActivation: second, into: out)
                            }
                        }
                    }
                }
            }
        }
        expectClose(results[0], expected, tolerance: 1e-4, "expand and depthwise \(c) \(first) \(second)")
        #expect(results[0] == results[1], "1 vs 2 threads differ for \(c)")
    }
}

/// An inverted residual block on a 64x64 plane moves to NCHW8c with its expansion, depthwise
/// convolution and projection (and the residual Add) as one node (the expanded tensor, 48 x 64 x
/// 64 floats, past the fusion's threshold); a smaller plane keeps them apart. Same outputs as the
/// plain graph, 1 and 2 threads.
@Test(arguments: [64, 24])
func expansionsFuseWithTheirDepthwiseConvolution(_ side: Int) throws {
    let original = convolutionConstants([("expandW", [48, 16, 1, 1]), ("dwW", [48, 1, 3, 3]), ("projectW", [16, 48, 1, 1])], seeds: (3, 30))
    let nodes = [
        conv("expand", Conv(), ["x", "expandW", "expandWB"]),
        NodeSpec(name: "clip", opType: "Clip", op: Clip(min: 0, max: 6), inputs: ["expand"], outputs: ["expanded"]),
        conv("dw", Conv(pads: [1, 1, 1, 1], group: 48), ["expanded", "dwW", "dwWB"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["dw"], outputs: ["filtered"]),
        conv("project", Conv(), ["filtered", "projectW", "projectWB"]),
        NodeSpec(name: "add", opType: "Add", op: Add(), inputs: ["project", "x"], outputs: ["y"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(16), .fixed(side), .fixed(side)])
    let outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil)]
    let (plain, blocked, count, _, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: original)
    #expect(count == 3)
    let fused = blocked.filter { $0.op is BlockedInvertedResidual }.map(\.name)
    #expect(fused == (side == 64 ? ["expand + dw + project"] : []), "\(blocked.map(\.name))")
    #expect(blocked.contains { $0.name == "dw" } == (side != 64))
    let x = t([1, 16, side, side], pseudoRandom(16 * side * side, seed: 65))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["y"], tolerance: 2e-6, "inverted residual \(side)")
}
