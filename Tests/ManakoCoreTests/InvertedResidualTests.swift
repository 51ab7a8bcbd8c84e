import ManakoCore
import Testing

/// The fused source (stem or 1x1 expansion), depthwise convolution and optional projection
/// against the seven-loop twin run layer by layer (each with its activation, the projection's
/// after its residual): stems of 1, 3 and 4 input channels, 3x3 and 7x7, stride 1 and 2 with
/// TensorFlow's uneven padding; expansions with two slices of k; 3x3 and 5x5 depthwise windows at
/// stride 1 and 2; projections of 8 (half a tile), 16, 24 (the wide pass), 40 (three packed
/// tiles) and 64 filters, with and without a residual; several bands of rows (the rows two bands
/// share kept in the scratch's ring, which they wrap around), batch 2 and 3; 1 and 2 threads give
/// the same bits.
@Test(arguments: [
    // (batch, channels, depthwise channels, projection filters (0: none), height, width,
    //  source kernel (1: an expansion), source stride, source pads, window, stride, pads, residual)
    (1, 3, 32, 0, 40, 36, 3, 2, [1, 1, 1, 1], 3, 1, [1, 1, 1, 1], false),
    (3, 1, 8, 0, 17, 23, 3, 1, [1, 1, 1, 1], 5, 2, [2, 2, 2, 2], false),
    (1, 4, 24, 0, 31, 64, 3, 2, [0, 0, 1, 1], 3, 1, [1, 1, 1, 1], false),
    (1, 3, 64, 0, 200, 50, 3, 2, [1, 1, 1, 1], 3, 1, [1, 1, 1, 1], false),
    (1, 3, 64, 0, 160, 40, 3, 1, [1, 1, 1, 1], 3, 2, [1, 1, 1, 1], false),
    (1, 3, 16, 0, 30, 30, 7, 2, [3, 3, 3, 3], 5, 1, [2, 2, 2, 2], false),
    (1, 3, 32, 16, 224, 112, 3, 2, [1, 1, 1, 1], 3, 1, [1, 1, 1, 1], false),
    (2, 16, 24, 24, 13, 30, 1, 1, [0, 0, 0, 0], 3, 2, [1, 1, 1, 1], false),
    (1, 24, 144, 24, 30, 56, 1, 1, [0, 0, 0, 0], 3, 1, [1, 1, 1, 1], true),
    (1, 40, 240, 40, 28, 28, 1, 1, [0, 0, 0, 0], 5, 1, [2, 2, 2, 2], true),
    (1, 264, 16, 8, 6, 7, 1, 1, [0, 0, 0, 0], 3, 1, [1, 1, 1, 1], false),
    (1, 8, 96, 64, 60, 50, 1, 1, [0, 0, 0, 0], 3, 2, [0, 0, 1, 1], true),
    // MobileNetV2's stride-2 block into 14x14: bands of 4, 4, 4 and 2 rows (6 fit).
    (1, 32, 192, 64, 28, 28, 1, 1, [0, 0, 0, 0], 3, 2, [1, 1, 1, 1], false),
])
func invertedResidualMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, Int, [Int], Int, Int, [Int], Bool)) throws {
    let (n, cin, e, m, h, w, sk, ss, sourcePads, k, s, pads, withResidual) = c
    let source = try WindowGeometry(input: [n, cin, h, w], kernel: (sk, sk), strides: (ss, ss), dilations: (1, 1), pads: sourcePads,
                                    autoPad: .explicit)
    let g = try WindowGeometry(input: [n, e, source.outHeight, source.outWidth], kernel: (k, k), strides: (s, s), dilations: (1, 1),
                               pads: pads, autoPad: .explicit)
    #expect(ExpandDepthwiseKernel.applies(g))
    let outSpatial = g.outHeight * g.outWidth, outChannels = m == 0 ? e : m
    let projectionGeometry = try WindowGeometry(input: [n, e, g.outHeight, g.outWidth], kernel: (1, 1), strides: (1, 1),
                                                dilations: (1, 1), pads: [0, 0, 0, 0], autoPad: .explicit)
    let x = pseudoRandom(n * cin * h * w, seed: 121)
    let sourceWeights = pseudoRandom(e * cin * sk * sk, seed: 122).map { $0 / 4 }, sourceBias = pseudoRandom(e, seed: 123)
    let depthwiseWeights = pseudoRandom(e * k * k, seed: 124), depthwiseBias = pseudoRandom(e, seed: 125)
    // (Without a projection, eight filters packed but never read.)
    let projectionWeights = pseudoRandom(max(8, m) * e, seed: 126).map { $0 / 8 }, projectionBias = pseudoRandom(max(8, m), seed: 127)
    let residual = pseudoRandom(n * outChannels * outSpatial, seed: 128)
    let packedSource = BlockedGemmConvKernel.packWeights(sourceWeights, outChannels: e, inChannels: cin * sk * sk)
    let packedProjection = BlockedGemmConvKernel.packWeights(projectionWeights, outChannels: max(8, m), inChannels: e)
    let filters = BlockedDepthwiseKernel.packWeights(depthwiseWeights, channels: e, taps: k * k)
    let activations: [(FusedActivation, FusedActivation, FusedActivation)] = [
        (.clip(min: 0, max: 6), .clip(min: 0, max: 6), .none), (.silu, .silu, .relu), (.none, .relu, .silu),
    ]
    for (first, second, third) in activations {
        var made = ConvKernels.reference(input: x, weights: sourceWeights, bias: sourceBias, geometry: source, outChannels: e, groups: 1)
        made = made.map(scalarActivation(first))
        var expected = ConvKernels.reference(input: made, weights: depthwiseWeights, bias: depthwiseBias, geometry: g,
                                             outChannels: e, groups: e)
        expected = expected.map(scalarActivation(second))
        if m > 0 {
            expected = ConvKernels.reference(input: expected, weights: projectionWeights, bias: projectionBias, geometry: projectionGeometry,
                                             outChannels: m, groups: 1)
            if withResidual { expected = zip(expected, residual).map { $0 + $1 } }
            expected = expected.map(scalarActivation(third))
        }
        let blockedResidual = blockedByDefinition(residual, batch: n, channels: outChannels, spatial: outSpatial)
        // An expansion reads X blocked; a stem reads it as it is.
        let input = sk == 1 ? blockedByDefinition(x, batch: n, channels: cin, spatial: h * w) : x
        let results = [1, 2].map { threads in
            Parallel.withThreads(threads) {
                var out = [Float](repeating: .nan, count: n * outChannels * outSpatial)
                input.withUnsafeBufferPointer { xb in
                    sourceBias.withUnsafeBufferPointer { sb in
                        depthwiseBias.withUnsafeBufferPointer { db in
                            projectionBias.withUnsafeBufferPointer { pb in
                                blockedResidual.withUnsafeBufferPointer { rb in
                                    filters.withUnsafeBufferPointer { f in
                                        out.withUnsafeMutableBufferPointer { y in
                                            let projection = m == 0 ? nil : InvertedResidualKernel.Projection(
                                                weights: packedProjection, bias: pb.baseAddress!, residual: withResidual ? rb.baseAddress! : nil,
                                                activation: third)
                                            InvertedResidualKernel.run(xb.baseAddress!, source: sk == 1 ? .expansion(packedSource) : .stem(packedSource, source),
                                                                       sourceBias: sb.baseAddress!, sourceActivation: first, depthwise: g,
                                                                       depthwiseWeights: f.baseAddress!, depthwiseBias: db.baseAddress!,
                                                                       depthwiseActivation: second, projection: projection, into: y.baseAddress!)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                var result = [Float](repeating: 0, count: out.count)
                ChannelBlocks.unblock(out, batch: n, channels: outChannels, spatial: outSpatial, into: &result)
                return result
            }
        }
        expectClose(results[0], expected, tolerance: 1e-4, "inverted residual \(c) \(first) \(second) \(third)")
        #expect(results[0] == results[1], "1 vs 2 threads differ for \(c)")
    }
}

/// Bands worked by hand from the 400 KB budget: each half of the rows in as few near-equal bands
/// as fit, so two threads (a half each) have the same rows.
@Test func invertedResidualBandsSplitEvenlyBetweenTwoThreads() throws {
    func sizes(_ bands: [Range<Int>]) -> [Int] { bands.map(\.count) }
    // MobileNetV2's stem: 32 channels at 112x112 (114 columns with padding), 3x3 stride 1:
    // (r + 2) * 114 * 128 + r * 112 * 128 bytes, at most 13 rows; halves of 56 in five bands.
    let stem = try WindowGeometry(input: [1, 32, 112, 112], kernel: (3, 3), strides: (1, 1), dilations: (1, 1),
                                  pads: [1, 1, 1, 1], autoPad: .explicit)
    let stemBands = InvertedResidualKernel.bands(stem, projects: true)
    #expect(sizes(stemBands) == [12, 11, 11, 11, 11, 12, 11, 11, 11, 11])
    #expect(stemBands.first?.lowerBound == 0 && stemBands.last?.upperBound == 112
            && zip(stemBands, stemBands.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
    // Its stride-2 block into 14x14 (192 channels): 6 rows fit; halves of 7 in two bands (bands of
    // one size gave 4, 4, 4, 2: 8 rows against 6).
    let block = try WindowGeometry(input: [1, 192, 28, 28], kernel: (3, 3), strides: (2, 2), dilations: (1, 1),
                                   pads: [1, 1, 1, 1], autoPad: .explicit)
    #expect(InvertedResidualKernel.bands(block, projects: true) == [0..<4, 4..<7, 7..<11, 11..<14])
    // 56x56 at 144 channels (MobileNetV2's third block): 5 rows fit; halves of 28 in six bands.
    let even = try WindowGeometry(input: [1, 144, 56, 56], kernel: (3, 3), strides: (1, 1), dilations: (1, 1),
                                  pads: [1, 1, 1, 1], autoPad: .explicit)
    #expect(sizes(InvertedResidualKernel.bands(even, projects: true)) == [5, 5, 5, 5, 4, 4, 5, 5, 5, 5, 4, 4])
    // An odd count: the top half a row larger; a plane of one row is one band.
    let odd = try WindowGeometry(input: [1, 144, 7, 7], kernel: (3, 3), strides: (1, 1), dilations: (1, 1),
                                 pads: [1, 1, 1, 1], autoPad: .explicit)
    #expect(InvertedResidualKernel.bands(odd, projects: true) == [0..<4, 4..<7])
    let one = try WindowGeometry(input: [1, 144, 1, 9], kernel: (3, 3), strides: (1, 1), dilations: (1, 1),
                                 pads: [1, 1, 1, 1], autoPad: .explicit)
    #expect(InvertedResidualKernel.bands(one, projects: true) == [0..<1])
}

/// A MobileNet stem on a 192x192 image moves to NCHW8c with its depthwise convolution and the
/// projection after it as one node (the stem's output, 16 x 96 x 96 floats, past the fusion's
/// threshold); a 96x96 image keeps them apart. Same outputs as the plain graph, 1 and 2 threads.
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
    let fused = blocked.filter { $0.op is BlockedInvertedResidual }.map(\.name)
    #expect(fused == (side == 192 ? ["stem + dw + project"] : []))
    let x = t([1, 3, side, side], pseudoRandom(3 * side * side, seed: 66))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["project"], tolerance: 2e-6, "stem, depthwise and projection \(side)")
}

/// A stem whose depthwise output two projections read fuses with the depthwise layer only.
@Test func stemsFuseWithoutAProjectionSharingItsInput() throws {
    let original = convolutionConstants([("stemW", [16, 3, 3, 3]), ("dwW", [16, 1, 3, 3]), ("projectW", [8, 16, 1, 1]),
                                         ("otherW", [8, 16, 1, 1])], seeds: (5, 50))
    let nodes = [
        conv("stem", Conv(strides: [2, 2], pads: [1, 1, 1, 1]), ["x", "stemW", "stemWB"]),
        conv("dw", Conv(pads: [1, 1, 1, 1], group: 16), ["stem", "dwW", "dwWB"]),
        conv("project", Conv(), ["dw", "projectW", "projectWB"]),
        conv("other", Conv(), ["dw", "otherW", "otherWB"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(3), .fixed(192), .fixed(192)])
    let outputs = ["project", "other"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let (plain, blocked, _, _, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: original)
    let fused = blocked.compactMap { $0.op as? BlockedInvertedResidual }
    #expect(fused.count == 1 && fused.first?.projection == nil, "\(blocked.map(\.name))")
    let x = t([1, 3, 192, 192], pseudoRandom(3 * 192 * 192, seed: 67))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["project", "other"], tolerance: 2e-6, "stem and depthwise, shared")
}
