import ManakoCore
import Testing

/// The fused stem and depthwise convolution against the seven-loop twin run twice (stem,
/// activation, depthwise, activation): 1, 3 and 4 input channels, 3x3 and 7x7 stems at stride 1
/// and 2 with symmetric and TensorFlow's uneven padding, half tiles of sixteen channels, 3x3 and
/// 5x5 depthwise windows at stride 1 and 2, several bands of rows (the rows two bands share kept,
/// one or two of them), batch 3; 1 and 2 threads give the same bits.
@Test(arguments: [
    // (batch, channels, filters, height, width, stem kernel, stem stride, stem pads, window, stride, pads)
    (1, 3, 32, 40, 36, 3, 2, [1, 1, 1, 1], 3, 1, [1, 1, 1, 1]),
    (3, 1, 8, 17, 23, 3, 1, [1, 1, 1, 1], 5, 2, [2, 2, 2, 2]),
    (1, 4, 24, 31, 64, 3, 2, [0, 0, 1, 1], 3, 1, [1, 1, 1, 1]),
    (1, 3, 64, 200, 50, 3, 2, [1, 1, 1, 1], 3, 1, [1, 1, 1, 1]),
    (1, 3, 64, 160, 40, 3, 1, [1, 1, 1, 1], 3, 2, [1, 1, 1, 1]),
    (1, 3, 16, 30, 30, 7, 2, [3, 3, 3, 3], 5, 1, [2, 2, 2, 2]),
])
func stemDepthwiseMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, [Int], Int, Int, [Int])) throws {
    let (n, cin, m, h, w, sk, ss, stemPads, k, s, pads) = c
    let stem = try WindowGeometry(input: [n, cin, h, w], kernel: (sk, sk), strides: (ss, ss), dilations: (1, 1), pads: stemPads,
                                  autoPad: .explicit)
    let g = try WindowGeometry(input: [n, m, stem.outHeight, stem.outWidth], kernel: (k, k), strides: (s, s), dilations: (1, 1),
                               pads: pads, autoPad: .explicit)
    #expect(ExpandDepthwiseKernel.applies(g))
    let x = pseudoRandom(n * cin * h * w, seed: 121)
    let stemWeights = pseudoRandom(m * cin * sk * sk, seed: 122).map { $0 / 4 }, stemBias = pseudoRandom(m, seed: 123)
    let depthwiseWeights = pseudoRandom(m * k * k, seed: 124), depthwiseBias = pseudoRandom(m, seed: 125)
    let packed = BlockedGemmConvKernel.packWeights(stemWeights, outChannels: m, inChannels: cin * sk * sk)
    let filters = BlockedDepthwiseKernel.packWeights(depthwiseWeights, channels: m, taps: k * k)
    let outSpatial = g.outHeight * g.outWidth
    let pairs: [(FusedActivation, FusedActivation)] = [(.clip(min: 0, max: 6), .clip(min: 0, max: 6)), (.silu, .silu), (.none, .relu)]
    for (first, second) in pairs {
        var stemmed = ConvKernels.reference(input: x, weights: stemWeights, bias: stemBias, geometry: stem, outChannels: m, groups: 1)
        stemmed = stemmed.map(scalarActivation(first))
        var expected = ConvKernels.reference(input: stemmed, weights: depthwiseWeights, bias: depthwiseBias, geometry: g,
                                             outChannels: m, groups: m)
        expected = expected.map(scalarActivation(second))
        let results = [1, 2].map { threads in
            Parallel.withThreads(threads) {
                var out = [Float](repeating: .nan, count: n * m * outSpatial)
                x.withUnsafeBufferPointer { xb in
                    stemBias.withUnsafeBufferPointer { sb in
                        depthwiseBias.withUnsafeBufferPointer { db in
                            filters.withUnsafeBufferPointer { f in
                                out.withUnsafeMutableBufferPointer { y in
                                    StemDepthwiseKernel.run(xb.baseAddress!, stemWeights: packed, stemBias: sb.baseAddress!, stem: stem,
                                                            stemActivation: first, depthwise: g, depthwiseWeights: f.baseAddress!,
                                                            depthwiseBias: db.baseAddress!, depthwiseActivation: second,
                                                            into: y.baseAddress!)
                                }
                            }
                        }
                    }
                }
                var result = [Float](repeating: 0, count: out.count)
                ChannelBlocks.unblock(out, batch: n, channels: m, spatial: outSpatial, into: &result)
                return result
            }
        }
        expectClose(results[0], expected, tolerance: 1e-4, "stem and depthwise \(c) \(first) \(second)")
        #expect(results[0] == results[1], "1 vs 2 threads differ for \(c)")
    }
}

/// A MobileNet stem on a 192x192 image moves to NCHW8c with its depthwise convolution as one
/// node (the stem's output, 16 x 96 x 96 floats, past the fusion's threshold); a 96x96 image
/// keeps them apart. Same outputs as the plain graph, 1 and 2 threads.
@Test(arguments: [192, 96])
func stemsFuseWithTheirDepthwiseConvolution(_ side: Int) throws {
    let original = convolutionConstants([("stemW", [16, 3, 3, 3]), ("dwW", [16, 1, 3, 3]), ("projectW", [8, 16, 1, 1])], seeds: (5, 50))
    let nodes = [
        conv("stem", Conv(strides: [2, 2], pads: [1, 1, 1, 1]), ["x", "stemW", "stemWB"]),
        NodeSpec(name: "clip", opType: "Clip", op: Clip(min: 0, max: 6), inputs: ["stem"], outputs: ["stemmed"]),
        conv("dw", Conv(pads: [1, 1, 1, 1], group: 16), ["stemmed", "dwW", "dwWB"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["dw"], outputs: ["filtered"]),
        conv("project", Conv(), ["filtered", "projectW", "projectWB"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(3), .fixed(side), .fixed(side)])
    let outputs = [ValueInfo(name: "project", elementType: .float32, shape: nil)]
    let (plain, blocked, count, _, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: original)
    #expect(count == 3)
    let fused = blocked.filter { $0.op is BlockedStemDepthwise }.map(\.name)
    #expect(fused == (side == 192 ? ["stem + dw"] : []))
    let x = t([1, 3, side, side], pseudoRandom(3 * side * side, seed: 66))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["project"], tolerance: 2e-6, "stem and depthwise \(side)")
}
