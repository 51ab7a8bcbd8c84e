import ManakoCore
import Testing

/// NCHW [N, C, spatial] into NCHW8c by the layout's definition, one element at a time.
func blockedByDefinition(_ x: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
    var y = [Float](repeating: .nan, count: x.count)
    for n in 0..<batch {
        for c in 0..<channels {
            for p in 0..<spatial { y[((n * channels / 8 + c / 8) * spatial + p) * 8 + c % 8] = x[(n * channels + c) * spatial + p] }
        }
    }
    return y
}

/// The reorders against the layout's definition (spatial sizes with and without a partial run
/// of eight pixels), and back again bit for bit.
@Test(arguments: [(1, 8, 1), (2, 16, 15), (1, 24, 64), (3, 8, 127), (1, 32, 1001)])
func channelReordersFollowTheLayout(_ c: (Int, Int, Int)) {
    let (batch, channels, spatial) = c
    let x = pseudoRandom(batch * channels * spatial, seed: 91)
    var blocked = [Float](repeating: 0, count: x.count), back = [Float](repeating: 0, count: x.count)
    Parallel.withThreads(2) {
        ChannelBlocks.block(x, batch: batch, channels: channels, spatial: spatial, into: &blocked)
        ChannelBlocks.unblock(blocked, batch: batch, channels: channels, spatial: spatial, into: &back)
    }
    #expect(blocked == blockedByDefinition(x, batch: batch, channels: channels, spatial: spatial), "\(c)")
    #expect(back == x, "\(c)")
}

/// Runs `body` on NCHW8c copies of the NCHW inputs and returns its NCHW8c output in NCHW.
func throughBlocks(_ batch: Int, _ outChannels: Int, _ outSpatial: Int, _ inputs: [(values: [Float], channels: Int, spatial: Int)],
                   _ body: ([UnsafePointer<Float>], UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    let blocked = inputs.map { input in
        var y = [Float](repeating: 0, count: input.values.count)
        ChannelBlocks.block(input.values, batch: batch, channels: input.channels, spatial: input.spatial, into: &y)
        return y
    }
    var out = [Float](repeating: .nan, count: batch * outChannels * outSpatial)
    func withPointers(_ i: Int, _ pointers: [UnsafePointer<Float>]) {
        if i == blocked.count {
            body(pointers, &out)
            return
        }
        blocked[i].withUnsafeBufferPointer { withPointers(i + 1, pointers + [$0.baseAddress!]) }
    }
    withPointers(0, [])
    var result = [Float](repeating: 0, count: out.count)
    ChannelBlocks.unblock(out, batch: batch, channels: outChannels, spatial: outSpatial, into: &result)
    return result
}

let blockedActivations: [(FusedActivation, @Sendable (Float) -> Float)] = [FusedActivation.none, .clip(min: 0, max: 6), .silu].map {
    ($0, scalarActivation($0))
}

/// Runs a blocked kernel on NCHW8c copies of X (and of the residual, when there is one) for
/// every fused activation, with and without a residual, on 1 and 2 threads, and expects the
/// plain convolution's `plain` output through the same epilogue, the same bits on both thread counts.
func expectBlockedKernel(batch n: Int, inChannels: Int, inSpatial: Int, outChannels: Int, outSpatial: Int, x: [Float],
                         plain: [Float], residual: [Float], tolerance: Float = 1e-4, _ what: String,
                         _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>?, FusedActivation, UnsafeMutablePointer<Float>) -> Void) {
    for (activation, scalar) in blockedActivations {
        for withResidual in [false, true] {
            let expected = zip(plain, residual).map { scalar($0 + (withResidual ? $1 : 0)) }
            let inputs = [(x, inChannels, inSpatial)] + (withResidual ? [(residual, outChannels, outSpatial)] : [])
            let results = [1, 2].map { threads in
                Parallel.withThreads(threads) {
                    throughBlocks(n, outChannels, outSpatial, inputs) { p, out in kernel(p[0], withResidual ? p[1] : nil, activation, out) }
                }
            }
            expectClose(results[0], expected, tolerance: tolerance, "\(what) \(activation) residual \(withResidual)")
            #expect(results[0] == results[1], "1 vs 2 threads differ for \(what)")
        }
    }
}

/// The blocked depthwise kernel against the seven-loop twin: rows narrower than a group, edges
/// at every stride and dilation, asymmetric padding, batch 3, with residual and activations;
/// 1 and 2 threads give the same bits.
@Test(arguments: [
    // (batch, channels, height, width, kernel, stride, dilation, pads)
    (1, 8, 1, 1, 3, 1, 1, [1, 1, 1, 1]),
    (3, 16, 7, 7, 3, 1, 1, [1, 1, 1, 1]),
    (1, 8, 3, 1001, 3, 1, 1, [1, 1, 1, 1]),
    (2, 24, 16, 17, 5, 2, 1, [2, 2, 2, 2]),
    (1, 8, 13, 11, 3, 2, 1, [0, 1, 1, 0]),
    (1, 16, 12, 30, 3, 3, 1, [1, 1, 1, 1]),
    (1, 8, 15, 21, 3, 1, 2, [2, 2, 2, 2]),
    (1, 8, 9, 9, 7, 1, 1, [3, 3, 3, 3]),
    (1, 8, 127, 9, 5, 2, 1, [1, 2, 2, 1]),
    (1, 40, 28, 28, 3, 1, 1, [1, 1, 1, 1]),
    (1, 8, 14, 14, 3, 2, 1, [0, 0, 1, 1]),
    // Rows wide enough for the shared-load microkernels (3x3 and 5x5, stride 1 and 2).
    (1, 8, 5, 40, 3, 2, 1, [1, 1, 1, 1]),
    (2, 16, 6, 37, 5, 1, 1, [2, 2, 2, 2]),
    (1, 8, 9, 45, 5, 2, 1, [2, 2, 2, 2]),
    (1, 8, 4, 30, 5, 1, 1, [0, 2, 1, 0]),
    // Interiors of exactly 8 and exactly 4 pixels, and the last groups of 4 to 7 (7x7, 9 wide).
    (1, 8, 3, 12, 5, 1, 1, [2, 2, 2, 2]),
    // Rows of 10 and 13 (5 + 5, 8 + 5) in the padded copy; an interior of 41 (8 x 4, 4 + 5).
    (1, 8, 5, 10, 3, 1, 1, [1, 1, 1, 1]),
    (1, 8, 3, 13, 5, 1, 1, [2, 2, 2, 2]),
    (1, 8, 4, 43, 3, 1, 1, [1, 1, 1, 1]),
    (1, 16, 3, 11, 3, 2, 1, [1, 1, 1, 1]),
    (2, 8, 7, 7, 3, 1, 1, [1, 1, 1, 1]),
    // Small planes through the zero-padded copy: uneven pads, 5x5 at stride 2, four outputs a row.
    (1, 16, 14, 14, 5, 2, 1, [1, 2, 2, 1]),
    (3, 8, 4, 4, 3, 1, 1, [1, 1, 1, 1]),
])
func blockedDepthwiseMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, [Int])) throws {
    let (n, ch, h, w, k, s, d, pads) = c
    let g = try WindowGeometry(input: [n, ch, h, w], kernel: (k, k), strides: (s, s), dilations: (d, d), pads: pads, autoPad: .explicit)
    let outSpatial = g.outHeight * g.outWidth
    let x = pseudoRandom(n * ch * h * w, seed: 92).map { $0 * 4 }
    let weights = pseudoRandom(ch * k * k, seed: 93), bias = pseudoRandom(ch, seed: 94)
    let residual = pseudoRandom(n * ch * outSpatial, seed: 95)
    let plain = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: ch, groups: ch)
    let packed = BlockedDepthwiseKernel.packWeights(weights, channels: ch, taps: k * k)
    expectBlockedKernel(batch: n, inChannels: ch, inSpatial: h * w, outChannels: ch, outSpatial: outSpatial, x: x, plain: plain,
                        residual: residual, "blocked depthwise \(c)") { x, residual, activation, out in
        BlockedDepthwiseKernel.run(x, geometry: g, weights: packed, bias: bias, residual: residual, activation: activation, into: out)
    }
}

/// The microkernel's groups along a row, worked by hand: eights, then the rest of 4 to 7, or
/// a rest of 1 to 3 shared with the last eight in two near halves.
@Test func depthwiseRowGroups() {
    func groups(_ width: Int, from start: Int = 0) -> [Int] {
        var counts: [Int] = [], next = start
        BlockedDepthwiseKernel.inGroups(start..<(start + width)) { column, count in
            #expect(column == next, "groups of \(width) are contiguous")
            counts.append(count)
            next = column + count
        }
        #expect(next == start + width)
        return counts
    }
    #expect(groups(4) == [4])
    #expect(groups(7) == [7])
    #expect(groups(8) == [8])
    #expect(groups(9) == [4, 5])
    #expect(groups(10, from: 3) == [5, 5])
    #expect(groups(11) == [5, 6])
    #expect(groups(12) == [8, 4])
    #expect(groups(14) == [8, 6])
    #expect(groups(16) == [8, 8])
    #expect(groups(17) == [8, 4, 5])
    #expect(groups(56) == [8, 8, 8, 8, 8, 8, 8])
}

/// The blocked GEMM convolution against the seven-loop twin. 1x1: one pixel, partial panels of
/// six, half tiles (output channels 8 mod 16), two and more slices of input channels, batch 3.
/// Windows: strides, asymmetric padding, dilation, 7x7 and 1x1 planes, panels read in place (one
/// or two tiles, or few channels) and packed (three tiles or more), several slices of k,
/// eight-column tiles two panels at a time, and 24 or 32 channels in one pass.
@Test(arguments: [
    // (batch, inChannels, outChannels, height, width, kernel, stride, pads, dilation)
    (1, 8, 8, 1, 1, 1, 1, [0, 0, 0, 0], 1),
    (3, 16, 24, 7, 7, 1, 1, [0, 0, 0, 0], 1),
    (1, 264, 40, 1, 127, 1, 1, [0, 0, 0, 0], 1),
    (1, 24, 1000, 1, 1, 1, 1, [0, 0, 0, 0], 1),
    (2, 520, 16, 3, 5, 1, 1, [0, 0, 0, 0], 1),
    (1, 32, 96, 37, 11, 1, 1, [0, 0, 0, 0], 1),
    (3, 16, 56, 7, 7, 3, 2, [1, 1, 1, 1], 1),
    (1, 8, 40, 13, 9, 3, 1, [0, 1, 2, 1], 2),
    (1, 24, 8, 5, 5, 5, 2, [2, 2, 2, 2], 1),
    (1, 64, 72, 14, 13, 1, 2, [0, 0, 0, 0], 1),
    (2, 64, 48, 9, 10, 3, 1, [1, 1, 1, 1], 1),
    (1, 40, 24, 1, 1, 3, 1, [1, 1, 1, 1], 1),
    // 7x7 planes: a last panel of one pixel (its own kernel), over two slices of k and one.
    (2, 264, 40, 7, 7, 1, 1, [0, 0, 0, 0], 1),
    (1, 48, 64, 9, 9, 3, 1, [0, 0, 0, 0], 1),
    // A 14x14 plane with fewer than 16 tiles: one range per thread, every tile in it, over
    // three slices of k. With 16 or more: one range whose tiles split between the threads,
    // packed up front for all four slices of k; 63 tiles (the last of eight columns) on 13x13.
    (1, 520, 96, 14, 14, 1, 1, [0, 0, 0, 0], 1),
    (1, 1024, 256, 14, 14, 1, 1, [0, 0, 0, 0], 1),
    (1, 64, 1000, 13, 13, 1, 1, [0, 0, 0, 0], 1),
    // One range split by tiles: two threads pack its panels for every slice of k, up front;
    // three tiles in groups of one, four in one group per thread.
    (1, 520, 48, 7, 7, 1, 1, [0, 0, 0, 0], 1),
    (1, 264, 64, 7, 7, 1, 1, [0, 0, 0, 0], 1),
    // Eight-column tiles over pairs of whole panels: read in place (side by side in X, or not:
    // pairs that straddle a padded row end go one panel at a time) and packed; an odd panel left.
    (2, 40, 8, 6, 7, 1, 1, [0, 0, 0, 0], 1),
    (1, 16, 24, 9, 14, 3, 1, [1, 1, 1, 1], 1),
    (1, 48, 40, 5, 17, 1, 1, [0, 0, 0, 0], 1),
    // 24 and 32 output channels in one pass (`widePass`, three pixels at a time): two slices of
    // k, partial groups of one and two pixels, a strided padded window.
    (1, 520, 32, 5, 7, 1, 1, [0, 0, 0, 0], 1),
    (1, 264, 24, 11, 13, 1, 1, [0, 0, 0, 0], 1),
    (2, 24, 32, 9, 9, 3, 2, [1, 1, 1, 1], 1),
])
func blockedGemmConvolutionMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, [Int], Int)) throws {
    let (n, cin, cout, h, w, k, s, pads, d) = c
    let g = try WindowGeometry(input: [n, cin, h, w], kernel: (k, k), strides: (s, s), dilations: (d, d), pads: pads, autoPad: .explicit)
    let spatialOut = g.outHeight * g.outWidth
    let x = pseudoRandom(n * cin * h * w, seed: 96)
    let weights = pseudoRandom(cout * cin * k * k, seed: 97), bias = pseudoRandom(cout, seed: 98)
    let residual = pseudoRandom(n * cout * spatialOut, seed: 99)
    let plain = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: cout, groups: 1)
    let packed = BlockedGemmConvKernel.packWeights(weights, outChannels: cout, inChannels: cin, taps: k * k)
    expectBlockedKernel(batch: n, inChannels: cin, inSpatial: h * w, outChannels: cout, outSpatial: spatialOut, x: x, plain: plain,
                        residual: residual, tolerance: 2e-4, "blocked GEMM convolution \(c)") { x, residual, activation, out in
        bias.withUnsafeBufferPointer {
            BlockedGemmConvKernel.run(x, geometry: g, weights: packed, bias: $0.baseAddress!, residual: residual, activation: activation, into: out)
        }
    }
    // Written over its residual (the graph's `InputOverwriting`): the same bits as into a buffer of its own.
    let blockedX = blockedByDefinition(x, batch: n, channels: cin, spatial: h * w)
    let blockedResidual = blockedByDefinition(residual, batch: n, channels: cout, spatial: spatialOut)
    for threads in [1, 2] {
        let (apart, over) = Parallel.withThreads(threads) {
            var apart = [Float](repeating: 0, count: blockedResidual.count), over = blockedResidual
            BlockedGemmConvKernel.run(blockedX, geometry: g, weights: packed, bias: bias, residual: blockedResidual, activation: .relu, into: &apart)
            over.withUnsafeMutableBufferPointer {
                BlockedGemmConvKernel.run(blockedX, geometry: g, weights: packed, bias: bias, residual: $0.baseAddress!, activation: .relu,
                                          into: $0.baseAddress!)
            }
            return (apart, over)
        }
        #expect(apart == over, "\(c) written over its residual, \(threads) threads")
    }
}

/// Blocked Winograd, F(4x4), F(6x6) and F(2x2), against the seven-loop twin: a 1x1 plane, partial edge
/// tiles, no padding and asymmetric padding, half tiles of output channels, several blocks of
/// tiles (each thread its own blocks) and one (the stages split, V private or shared), large weights, batch 3, with
/// residual and activations. Patches are read from X in place, those crossing its edge gathered.
@Test(arguments: [
    // (batch, inChannels, outChannels, height, width, pads)
    (1, 8, 8, 1, 1, [1, 1, 1, 1]),
    (3, 16, 24, 7, 9, [1, 1, 1, 1]),
    (1, 16, 32, 12, 12, [1, 1, 1, 1]),  // one block, two 16-filter tiles: one per thread
    (3, 24, 16, 7, 9, [1, 1, 1, 1]),  // three one-block images on two threads: products by position
    (1, 16, 16, 23, 25, [1, 1, 1, 1]),  // 42 tiles in two blocks of 21: one per thread
    (1, 24, 40, 13, 11, [0, 0, 0, 0]),
    (2, 8, 16, 10, 12, [0, 1, 2, 1]),
    (1, 16, 8, 9, 10, [2, 1, 0, 2]),  // pads of two: edge patches mostly zeros, gathered from X
    (1, 64, 64, 57, 55, [1, 1, 1, 1]),
    (1, 344, 352, 20, 20, [1, 1, 1, 1]),  // weights past 16 MB: all 25 tiles in one block of 30
    (1, 264, 128, 14, 14, [1, 1, 1, 1]),  // one block, 64 filters a thread: each transforms all of X
    (1, 264, 16, 28, 28, [1, 1, 1, 1]),  // 256 channels or more: 49 tiles in two blocks of up to 30
    (2, 264, 256, 7, 7, [1, 1, 1, 1]),  // ResNet's 7x7 layers, F(2x2)'s case: 16 tiles of 2x2
    // Larger layers in one block of F(2x2) (2^22 multiply-adds per position or more): V shared,
    // then products by position, or by filter tiles where filters outnumber channels.
    (1, 344, 344, 14, 14, [1, 1, 1, 1]),
    (1, 304, 392, 14, 14, [1, 1, 1, 1]),
])
func blockedWinogradMatchesReference(_ c: (Int, Int, Int, Int, Int, [Int])) throws {
    for tile in [4, 6, 2] { try blockedWinogradMatchesReference(c, tile: tile) }
}

func blockedWinogradMatchesReference(_ c: (Int, Int, Int, Int, Int, [Int]), tile: Int) throws {
    let (n, cin, cout, h, w, pads) = c
    let g = try WindowGeometry(input: [n, cin, h, w], kernel: (3, 3), strides: (1, 1), dilations: (1, 1), pads: pads, autoPad: .explicit)
    let spatialOut = g.outHeight * g.outWidth
    let x = pseudoRandom(n * cin * h * w, seed: 105)
    let weights = pseudoRandom(cout * cin * 9, seed: 106), bias = pseudoRandom(cout, seed: 107)
    let residual = pseudoRandom(n * cout * spatialOut, seed: 108)
    let plain = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: cout, groups: 1)
    let transformed = BlockedWinogradKernel.transformWeights(weights, outChannels: cout, inChannels: cin, tile: tile)
    #expect(transformed.tile == tile)
    // The transforms' rounding, as for `WinogradKernel` (see `winogradMatchesReference`); F(6x6)'s
    // larger constants (up to 32 and 1/90) about double it.
    expectBlockedKernel(batch: n, inChannels: cin, inSpatial: h * w, outChannels: cout, outSpatial: spatialOut, x: x, plain: plain,
                        residual: residual, tolerance: (tile == 6 ? 1e-3 : 5e-4) * max(1, (Float(cin) / 64).squareRoot()),
                        "blocked Winograd F(\(tile)x\(tile)) \(c)") { x, residual, activation, out in
        bias.withUnsafeBufferPointer {
            BlockedWinogradKernel.run(x, geometry: g, weights: transformed, bias: $0.baseAddress!, residual: residual, activation: activation, into: out)
        }
    }
}

/// The tile side per output plane, worked by hand: F(6x6) for large planes (224x224: 64 x 38^2
/// products against 36 x 56^2, 0.82) whose U stays under 16 MB; F(4x4) from 16 tiles of 4x4 (14x14: 4 x 4);
/// F(2x2) for planes under that with 16 tiles of 2x2 (7x7: 4 x 4) and 256 channels or more
/// each way; neither for a 3x3 plane (4 tiles of 2x2) or narrow layers.
@Test func winogradTileFollowsThePlaneAndWidth() {
    #expect(BlockedWinogradKernel.tile(height: 224, width: 224, inChannels: 64, outChannels: 64) == 6)
    #expect(BlockedWinogradKernel.tile(height: 112, width: 112, inChannels: 256, outChannels: 256) == 6)
    #expect(BlockedWinogradKernel.tile(height: 112, width: 112, inChannels: 256, outChannels: 512) == 4)  // F(6x6)'s U past 16 MB
    #expect(BlockedWinogradKernel.tile(height: 56, width: 56, inChannels: 64, outChannels: 64) == 4)  // 0.91 of F(4x4)'s products
    #expect(BlockedWinogradKernel.tile(height: 14, width: 14, inChannels: 8, outChannels: 8) == 4)
    #expect(BlockedWinogradKernel.tile(height: 13, width: 13, inChannels: 64, outChannels: 64) == 4)
    #expect(BlockedWinogradKernel.tile(height: 7, width: 7, inChannels: 512, outChannels: 512) == 2)
    #expect(BlockedWinogradKernel.tile(height: 14, width: 14, inChannels: 512, outChannels: 512) == 2)
    #expect(BlockedWinogradKernel.tile(height: 14, width: 14, inChannels: 256, outChannels: 256) == 4)
    #expect(BlockedWinogradKernel.tile(height: 28, width: 28, inChannels: 512, outChannels: 512) == 4)
    #expect(BlockedWinogradKernel.tile(height: 7, width: 7, inChannels: 128, outChannels: 32) == nil)
    #expect(BlockedWinogradKernel.tile(height: 7, width: 7, inChannels: 256, outChannels: 128) == nil)
    #expect(BlockedWinogradKernel.tile(height: 3, width: 3, inChannels: 512, outChannels: 512) == nil)
    #expect(BlockedWinogradKernel.tiles(height: 7, width: 9, tile: 2) == 20)
}

/// The blocked max and average pools against the plain twin: strides, asymmetric padding,
/// dilation, ceil mode (a last window partly past the input), a window larger than the input,
/// batch 3, bands of output rows across images on two threads; means over the taps inside the
/// input, and inside its declared padding too.
@Test(arguments: [
    // (batch, channels, height, width, kernel, stride, pads, dilation, ceil)
    (1, 8, 112, 112, 3, 2, [1, 1, 1, 1], 1, false),
    (3, 16, 7, 9, 2, 2, [0, 0, 0, 0], 1, true),
    (1, 24, 13, 11, 3, 2, [0, 1, 2, 0], 2, true),
    (2, 8, 2, 3, 5, 1, [2, 2, 2, 2], 1, false),
    (1, 16, 56, 56, 2, 2, [0, 0, 0, 0], 1, false),
    (2, 24, 40, 30, 3, 2, [1, 1, 1, 1], 1, true),
    (2, 8, 9, 7, 3, 1, [1, 0, 0, 1], 1, false),
    (1, 8, 111, 111, 3, 2, [0, 0, 0, 0], 1, true),
    (1, 16, 10, 9, 3, 2, [0, 1, 0, 1], 1, false),
    (1, 8, 7, 5, 3, 2, [0, 0, 0, 0], 1, false),
])
func blockedPoolsMatchReference(_ c: (Int, Int, Int, Int, Int, Int, [Int], Int, Bool)) throws {
    let (n, channels, h, w, k, s, pads, d, ceil) = c
    let g = try WindowGeometry.make(input: [n, channels, h, w], kernel: [k, k], strides: [s, s], dilations: [d, d], pads: pads,
                                    autoPad: .explicit, ceilMode: ceil)
    let x = pseudoRandom(n * channels * h * w, seed: 104)
    let pools: [(BlockedPool, PoolKernels.Kind)] = [
        (BlockedPool(MaxPool(kernelShape: [k, k], strides: [s, s], dilations: [d, d], pads: pads, ceilMode: ceil)), .max),
        (BlockedPool(AveragePool(kernelShape: [k, k], strides: [s, s], dilations: [d, d], pads: pads, ceilMode: ceil)), .average),
        (BlockedPool(AveragePool(kernelShape: [k, k], strides: [s, s], dilations: [d, d], pads: pads, ceilMode: ceil,
                                 countIncludePad: true)), .averageIncludingPad),
    ]
    for (pool, kind) in pools {
        #expect(pool.kind == kind)
        let expected = PoolKernels.reference(x, g, kind: kind)
        let results = try [1, 2].map { threads in
            try Parallel.withThreads(threads) {
                let blocked = try ChannelReorder(toBlocked: true).run([Tensor(shape: [n, channels, h, w], floats: x)])[0]
                let y = try pool.run([blocked])[0]
                #expect(y.shape == [n, channels, g.outHeight, g.outWidth])
                return try ChannelReorder(toBlocked: false).run([y])[0].floats()
            }
        }
        // The maximum is exact (-infinity for a window wholly in the padding); a mean multiplies
        // by its divisor's reciprocal where the twin divides.
        if kind == .max { #expect(results[0] == expected, "\(c)") } else { expectClose(results[0], expected, tolerance: 1e-6, "\(c) \(kind)") }
        #expect(results[0] == results[1], "\(c) \(kind): 1 vs 2 threads")
    }
}

/// The blocked global average pool against each channel's plain mean: an odd plane, one pixel,
/// batch 3, and planes large enough to split by channel blocks on two threads (same bits).
@Test(arguments: [(3, 40, 13), (1, 8, 1), (1, 1000, 169), (2, 2048, 49)])
func blockedGlobalAveragePoolMatchesMeans(_ c: (Int, Int, Int)) {
    let (n, channels, spatial) = c
    let x = pseudoRandom(n * channels * spatial, seed: 105)
    let expected = (0..<(n * channels)).map { plane in
        Float((0..<spatial).reduce(0.0) { $0 + Double(x[plane * spatial + $1]) } / Double(spatial))
    }
    let blocked = blockedByDefinition(x, batch: n, channels: channels, spatial: spatial)
    let results = [1, 2].map { threads in
        Parallel.withThreads(threads) {
            var y = [Float](repeating: 0, count: n * channels)
            ChannelBlocks.averagePool(blocked, batch: n, channels: channels, spatial: spatial, into: &y)
            return y
        }
    }
    expectClose(results[0], expected, tolerance: 1e-6, "\(c)")
    #expect(results[0] == results[1], "\(c): 1 vs 2 threads")
}

/// A stem with few input channels (NCHW in, NCHW8c out) against the seven-loop twin: strides,
/// asymmetric padding, rows that end in a partial group of six, batch 3, half tiles.
@Test(arguments: [
    // (batch, inChannels, outChannels, height, width, kernel, stride, pads)
    (1, 3, 16, 7, 7, 3, 2, [1, 1, 1, 1]),
    (3, 1, 8, 9, 13, 3, 1, [1, 1, 1, 1]),
    (1, 4, 40, 31, 17, 5, 2, [2, 1, 2, 1]),
    (1, 3, 32, 64, 65, 3, 2, [0, 0, 1, 1]),
    (1, 2, 24, 1, 1, 3, 1, [1, 1, 1, 1]),
])
func blockedStemMatchesReference(_ c: (Int, Int, Int, Int, Int, Int, Int, [Int])) throws {
    let (n, cin, cout, h, w, k, s, pads) = c
    let g = try WindowGeometry(input: [n, cin, h, w], kernel: (k, k), strides: (s, s), dilations: (1, 1), pads: pads, autoPad: .explicit)
    let x = pseudoRandom(n * cin * h * w, seed: 101)
    let weights = pseudoRandom(cout * cin * k * k, seed: 102), bias = pseudoRandom(cout, seed: 103)
    let plain = ConvKernels.reference(input: x, weights: weights, bias: bias, geometry: g, outChannels: cout, groups: 1)
    for (activation, scalar) in blockedActivations {
        var conv = Conv(strides: [s, s], pads: pads)
        conv.activation = activation
        let op = try #require(BlockedConv(conv, weights: Tensor(shape: [cout, cin, k, k], floats: weights)))
        #expect(!op.readsBlockedInput)
        let results = try [1, 2].map { threads in
            try Parallel.withThreads(threads) {
                let y = try op.run([Tensor(shape: [n, cin, h, w], floats: x), nil, Tensor(shape: [cout], floats: bias)])[0]
                return try ChannelReorder(toBlocked: false).run([y])[0].floats()
            }
        }
        expectClose(results[0], plain.map(scalar), "blocked stem \(c) \(activation)")
        #expect(results[0] == results[1], "1 vs 2 threads differ for \(c)")
    }
}

/// A Conv node named after its output.
func conv(_ name: String, _ op: Conv, _ inputs: [String]) -> NodeSpec {
    NodeSpec(name: name, opType: "Conv", op: op, inputs: inputs, outputs: [name])
}

/// Pseudo-random weights W and biases (W's name + "B") for convolutions of the given shapes.
func convolutionConstants(_ shapes: [(String, [Int])], seeds: (weights: Int, biases: Int)) -> [String: Tensor] {
    var constants: [String: Tensor] = [:]
    for (name, shape) in shapes {
        constants[name] = Tensor(shape: shape, floats: pseudoRandom(shape.reduce(1, *), seed: UInt64(name.count + seeds.weights)))
        constants[name + "B"] = Tensor(shape: [shape[0]], floats: pseudoRandom(shape[0], seed: UInt64(name.count + seeds.biases)))
    }
    return constants
}

/// The graph as written, and the same graph optimised and moved to blocked channels: its
/// nodes, how many convolutions were converted, its constants and the graph itself.
func blockedGraph(_ nodes: [NodeSpec], input: ValueInfo, outputs: [ValueInfo], constants original: [String: Tensor]) throws
    -> (plain: Graph, blocked: [NodeSpec], count: Int, constants: [String: Tensor], fast: Graph) {
    var constants = original
    let plain = try Graph(inputs: [input], outputs: outputs, constants: original, nodes: nodes)
    let (optimized, _) = try GraphOptimizer.optimize(nodes: nodes, constants: &constants, outputs: outputs)
    let shapes = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: optimized).inferShapes()
    let (blocked, count) = GraphOptimizer.blockChannels(optimized, shapes: shapes, constants: &constants, outputs: outputs)
    return (plain, blocked, count, constants, try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: blocked))
}

/// The blocked graph's outputs `names` against the plain graph's, on 1 and 2 threads.
func expectSameOutputs(_ fast: Graph, _ plain: Graph, feeds: [String: Tensor], names: [String], tolerance: Float, _ what: String) throws {
    let expected = try plain.run(feeds)
    for threads in [1, 2] {
        let actual = try Parallel.withThreads(threads) { try fast.run(feeds) }
        for name in names {
            // Relative to the output's largest value: these graphs' random weights grow large
            // sums that cancel to small outputs, whose rounding depends on the order of the sum.
            let a = try actual[name]!.floats(), b = try expected[name]!.floats()
            #expect(a.count == b.count, "\(what) \(name): \(a.count) vs \(b.count) elements")
            let scale = max(1, b.map(abs).max() ?? 0), worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst / scale <= tolerance, "\(what) \(name) \(threads): worst difference \(worst) of largest \(scale)")
        }
    }
}

/// An inverted residual block (1x1 expand, depthwise, 1x1 project plus a depthwise skip) after a
/// stem and a max pooling: stem, pooling and block move to NCHW8c as one chain with one reorder,
/// out (the block's sum is also a graph output; the stem reads the NCHW input itself); the lone
/// 1x1 after the final pooling, whose reorders would cost more than it writes, stays. The
/// outputs are the plain graph's.
@Test func convolutionChainsMoveToBlockedChannels() throws {
    let original = convolutionConstants([("stemW", [16, 3, 3, 3]), ("expandW", [48, 16, 1, 1]), ("dwW", [48, 1, 3, 3]), ("projectW", [16, 48, 1, 1]),
                          ("skipW", [16, 1, 3, 3]), ("loneW", [24, 16, 1, 1])], seeds: (0, 50))
    let nodes = [
        conv("stem", Conv(strides: [2, 2], pads: [1, 1, 1, 1]), ["x", "stemW", "stemWB"]),
        NodeSpec(name: "maxpool", opType: "MaxPool", op: MaxPool(kernelShape: [2, 2], strides: [1, 1]), inputs: ["stem"], outputs: ["pooled"]),
        conv("expand", Conv(), ["pooled", "expandW", "expandWB"]),
        NodeSpec(name: "clip", opType: "Relu", op: Relu(), inputs: ["expand"], outputs: ["expanded"]),
        conv("dw", Conv(strides: [2, 2], pads: [1, 1, 1, 1], group: 48), ["expanded", "dwW", "dwWB"]),
        conv("project", Conv(), ["dw", "projectW", "projectWB"]),
        conv("dwSkip", Conv(strides: [2, 2], pads: [1, 1, 1, 1], group: 16), ["pooled", "skipW", "skipWB"]),
        NodeSpec(name: "add", opType: "Add", op: Add(), inputs: ["project", "dwSkip"], outputs: ["sum"]),
        NodeSpec(name: "pool", opType: "GlobalAveragePool", op: GlobalAveragePool(), inputs: ["sum"], outputs: ["y"]),
        conv("lone", Conv(), ["y", "loneW", "loneWB"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(2), .fixed(3), .fixed(30), .fixed(34)])
    let outputs = ["y", "lone", "sum"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let (plain, blocked, count, constants, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: original)
    #expect(count == 5)
    #expect(blocked.filter { $0.op is BlockedConv }.map(\.name).sorted() == ["dw", "dwSkip", "expand", "project", "stem"])
    #expect(blocked.compactMap { ($0.op as? ChannelReorder)?.toBlocked } == [false])
    #expect(blocked.contains { $0.op is BlockedGlobalAveragePool } && blocked.contains { ($0.op as? BlockedPool)?.kind == .max })
    #expect(constants["expandW"] == nil && constants["stemW"] == nil && constants["loneW"] != nil)
    let x = t([2, 3, 30, 34], pseudoRandom(2 * 3 * 30 * 34, seed: 63))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["y", "lone", "sum"], tolerance: 2e-6, "chain")
}

/// A stem, a ResNet bottleneck with a strided 3x3 and a 1x1 stride-2 downsample, and a 3x3
/// stride-1 layer with no depthwise convolution: all move to NCHW8c (windows read in place and
/// through a padded copy, the last layer by Winograd) with one reorder, out of the graph's
/// output. Same numbers as the plain graph (up to Winograd's rounding), batch 2, 1 and 2 threads.
@Test func bottlenecksMoveToBlockedChannels() throws {
    let original = convolutionConstants([("stemW", [32, 3, 3, 3]), ("reduceW", [16, 32, 1, 1]), ("stridedW", [16, 16, 3, 3]), ("expandW", [64, 16, 1, 1]),
                          ("downW", [64, 32, 1, 1]), ("plainW", [16, 64, 3, 3])], seeds: (7, 70))
    let nodes = [
        conv("stem", Conv(pads: [1, 1, 1, 1]), ["x", "stemW", "stemWB"]),
        conv("reduce", Conv(), ["stem", "reduceW", "reduceWB"]),
        NodeSpec(name: "relu1", opType: "Relu", op: Relu(), inputs: ["reduce"], outputs: ["reduced"]),
        conv("strided", Conv(strides: [2, 2], pads: [1, 1, 1, 1]), ["reduced", "stridedW", "stridedWB"]),
        NodeSpec(name: "relu2", opType: "Relu", op: Relu(), inputs: ["strided"], outputs: ["narrow"]),
        conv("expand", Conv(), ["narrow", "expandW", "expandWB"]),
        conv("down", Conv(strides: [2, 2]), ["stem", "downW", "downWB"]),
        NodeSpec(name: "add", opType: "Add", op: Add(), inputs: ["expand", "down"], outputs: ["sum"]),
        NodeSpec(name: "relu3", opType: "Relu", op: Relu(), inputs: ["sum"], outputs: ["block"]),
        conv("plain", Conv(pads: [1, 1, 1, 1]), ["block", "plainW", "plainWB"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(2), .fixed(3), .fixed(33), .fixed(31)])
    let outputs = ["plain"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let (plain, blocked, count, _, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: original)
    #expect(count == 6)
    #expect(blocked.filter { $0.op is BlockedConv }.map(\.name).sorted() == ["down", "expand", "plain", "reduce", "stem", "strided"])
    #expect(blocked.contains { ($0.op as? BlockedConv)?.plan([nil]).hasPrefix("NCHW8c Winograd") ?? false })
    #expect(blocked.compactMap { ($0.op as? ChannelReorder)?.toBlocked } == [false])
    let x = t([2, 3, 33, 31], pseudoRandom(2 * 3 * 33 * 31, seed: 64))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["plain"], tolerance: 2e-5, "bottleneck")
}

/// A residual 1x1 convolution writes its output over the residual's buffer only when nothing
/// else holds it: not while a Flatten view of it is a graph output, nor while a later
/// convolution still adds it (which then writes over it itself). The profile says which did;
/// the outputs are the plain graph's, on 1 and 2 threads and over repeated runs (the pool must
/// not hand out a taken buffer).
@Test(arguments: ["alone", "viewed", "read later"])
func residualsAreWrittenOverOnlyWhenNothingElseHoldsThem(_ holder: String) throws {
    let (c, h, w) = (24, 5, 7)
    let weights = convolutionConstants([("oneW", [c, c, 1, 1]), ("twoW", [c, c, 1, 1]), ("threeW", [c, c, 1, 1])], seeds: (5, 55))
    let values = pseudoRandom(c * h * w, seed: 61)
    /// A blocked 1x1 convolution `name` reading `x`, adding `xb` if `residual`.
    func blocked(_ name: String, _ x: String, residual: Bool) throws -> NodeSpec {
        var op = Conv()
        op.addsResidual = residual
        let conv = try #require(BlockedConv(op, weights: weights[name + "W"]!))
        return NodeSpec(name: name, opType: "BlockedConv", op: conv, inputs: [x, "", name + "WB"] + (residual ? ["xb"] : []), outputs: [name])
    }
    let last = holder == "read later" ? "three" : "two"
    var nodes = [
        NodeSpec(name: "block", opType: "ChannelReorder", op: ChannelReorder(toBlocked: true), inputs: ["x"], outputs: ["xb"]),
        try blocked("one", "xb", residual: false),
    ]
    if holder == "viewed" { nodes.append(NodeSpec(name: "view", opType: "Flatten", op: Flatten(), inputs: ["xb"], outputs: ["kept"])) }
    nodes.append(try blocked("two", "one", residual: true))
    if holder == "read later" { nodes.append(try blocked("three", "two", residual: true)) }
    nodes.append(NodeSpec(name: "unblock", opType: "ChannelReorder", op: ChannelReorder(toBlocked: false), inputs: [last], outputs: ["y"]))
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(c), .fixed(h), .fixed(w)])
    let outputs = ["y"] + (holder == "viewed" ? ["kept"] : [])
    let graph = try Graph(inputs: [input], outputs: outputs.map { ValueInfo(name: $0, elementType: .float32, shape: nil) },
                          constants: weights, nodes: nodes)
    var plainNodes = [
        conv("one", Conv(), ["x", "oneW", "oneWB"]), conv("twoConv", Conv(), ["one", "twoW", "twoWB"]),
        NodeSpec(name: "two", opType: "Add", op: Add(), inputs: ["twoConv", "x"], outputs: ["two"]),
    ]
    if holder == "read later" {
        plainNodes += [conv("threeConv", Conv(), ["two", "threeW", "threeWB"]),
                       NodeSpec(name: "three", opType: "Add", op: Add(), inputs: ["threeConv", "x"], outputs: ["three"])]
    }
    let plain = try Graph(inputs: [input], outputs: [ValueInfo(name: last, elementType: .float32, shape: nil)], constants: weights,
                          nodes: plainNodes)
    let x = t([1, c, h, w], values), expected = try plain.run(["x": x])[last]!.floats()
    for threads in [1, 2] {
        for _ in 0..<3 {
            var timings: [NodeTiming] = []
            let out = try Parallel.withThreads(threads) { try graph.run(["x": x], profile: &timings) }
            expectClose(try out["y"]!.floats(), expected, tolerance: 1e-4, "\(holder) \(threads)")
            if holder == "viewed" { #expect(try out["kept"]!.floats() == blockedByDefinition(values, batch: 1, channels: c, spatial: h * w)) }
            let overwriting = timings.filter { $0.plan?.hasSuffix("written over its input 3") ?? false }.map(\.name)
            #expect(overwriting == (holder == "viewed" ? [] : [last]), "\(holder)")
        }
    }
}

/// A depthwise layer that keeps its plane is written over its input where the plane is narrow
/// enough for the padded kernel (which copies each block before writing it), 14 wide, and not
/// at 40; the outputs are the plain graph's on 1 and 2 threads, over repeated runs. Called
/// directly on a wider input than the optimizer saw, the layer computes aside and copies back.
@Test(arguments: [14, 40])
func narrowDepthwiseLayersWriteOverTheirInput(_ side: Int) throws {
    let weights = convolutionConstants([("expandW", [24, 16, 1, 1]), ("dwW", [24, 1, 3, 3]), ("projectW", [16, 24, 1, 1])], seeds: (7, 70))
    let nodes = [
        conv("expand", Conv(), ["x", "expandW", "expandWB"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["expand"], outputs: ["expanded"]),
        conv("dw", Conv(pads: [1, 1, 1, 1], group: 24), ["expanded", "dwW", "dwWB"]),
        NodeSpec(name: "clip", opType: "Clip", op: Clip(min: 0, max: 6), inputs: ["dw"], outputs: ["filtered"]),
        conv("project", Conv(), ["filtered", "projectW", "projectWB"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(16), .fixed(side), .fixed(side)])
    let outputs = [ValueInfo(name: "project", elementType: .float32, shape: nil)]
    let (plain, blocked, count, _, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: weights)
    #expect(count == 3)
    let depthwise = try #require(blocked.first { $0.name == "dw" }?.op as? BlockedConv)
    #expect(depthwise.depthwiseInPlace == (side == 14))
    let x = t([1, 16, side, side], pseudoRandom(16 * side * side, seed: 71))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["project"], tolerance: 2e-6, "depthwise in place \(side)")
    for threads in [1, 2] {
        for _ in 0..<2 {
            var timings: [NodeTiming] = []
            _ = try Parallel.withThreads(threads) { try fast.run(["x": x], profile: &timings) }
            let overwriting = timings.filter { $0.plan?.hasSuffix("written over its input 0") ?? false }.map(\.name)
            #expect(overwriting == (side == 14 ? ["dw"] : []), "\(side) \(threads)")
        }
    }
    // The flag set by hand on a 40-wide plane: the unpadded kernel runs aside, then copies over X.
    var inPlace = depthwise
    inPlace.depthwiseInPlace = true
    let values = pseudoRandom(24 * 40 * 40, seed: 72)
    let blockedInput = {
        Tensor(shape: [1, 24, 40, 40], aligned: AlignedFloats(count: values.count) { _ = $0.update(fromContentsOf: values) })
    }
    let expected = try depthwise.run([blockedInput(), nil, weights["dwWB"]]).first!.floats()
    let written = try inPlace.runOverwriting([blockedInput(), nil, weights["dwWB"]]).first!.floats()
    #expect(written == expected)
}

/// SqueezeNet's fire module: a Concat of two expansions (1x1 and a Winograd 3x3), fused into the
/// next 1x1 convolution, is read blocked where its parts are, also through a BatchNormalization
/// and ReLU after the Concat (DenseNet's pre-activation, applied as the GEMM packs X); the whole
/// graph is one chain with one reorder, out. Same numbers as the plain graph, batch 2, 1 and 2 threads.
@Test(arguments: [false, true])
func concatenatedPartsStayBlocked(normalized: Bool) throws {
    var original = convolutionConstants([("stemW", [16, 3, 3, 3]), ("squeezeW", [8, 16, 1, 1]), ("oneW", [16, 8, 1, 1]), ("threeW", [24, 8, 3, 3]),
                          ("nextW", [32, 40, 1, 1])], seeds: (11, 71))
    for (name, seed) in [("scale", 191), ("shift", 192), ("mean", 193), ("var", 194)] {
        original[name] = Tensor(shape: [40], floats: pseudoRandom(40, seed: UInt64(seed)).map { name == "var" ? $0 + 1.5 : $0 })
    }
    let normalization = [
        NodeSpec(name: "bn", opType: "BatchNormalization", op: BatchNormalization(epsilon: 1e-5),
                 inputs: ["joined", "scale", "shift", "mean", "var"], outputs: ["normalized"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["normalized"], outputs: ["activated"]),
    ]
    let nodes = [
        conv("stem", Conv(strides: [2, 2]), ["x", "stemW", "stemWB"]),
        conv("squeeze", Conv(), ["stem", "squeezeW", "squeezeWB"]),
        conv("one", Conv(), ["squeeze", "oneW", "oneWB"]),
        conv("three", Conv(pads: [1, 1, 1, 1]), ["squeeze", "threeW", "threeWB"]),
        NodeSpec(name: "join", opType: "Concat", op: Concat(axis: 1), inputs: ["one", "three"], outputs: ["joined"]),
    ] + (normalized ? normalization : []) + [
        conv("next", Conv(), [normalized ? "activated" : "joined", "nextW", "nextWB"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(2), .fixed(3), .fixed(41), .fixed(37)])
    let outputs = [ValueInfo(name: "next", elementType: .float32, shape: nil)]
    let (plain, blocked, count, _, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: original)
    #expect(count == 5)
    #expect(blocked.contains { ($0.op as? BlockedConv).map { $0.conv.inputParts == 2 && ($0.conv.inputAffine != nil) == normalized } ?? false })
    #expect(!blocked.contains { $0.op is Concat })
    #expect(blocked.compactMap { ($0.op as? ChannelReorder)?.toBlocked } == [false])
    let x = t([2, 3, 41, 37], pseudoRandom(2 * 3 * 41 * 37, seed: 65))
    try expectSameOutputs(fast, plain, feeds: ["x": x], names: ["next"], tolerance: 2e-5, "fire module \(normalized)")
}

/// Squeeze-and-excitation inside a blocked chain (EfficientNet-B0): the pooling reads the
/// depthwise output blocked, the factors' Mul (either operand order) folds into the 1x1
/// projection that reads it (its weights rescaled per image), and the head's pooling ends the
/// chain, so there is no reorder at all. Same numbers as the plain graph, batch 2, 1 and 2
/// threads.
@Test func squeezeAndExcitationStaysBlocked() throws {
    let constants = convolutionConstants([("stemW", [16, 3, 3, 3]), ("dwW", [16, 1, 3, 3]), ("reduceW", [4, 16, 1, 1]), ("expandW", [16, 4, 1, 1]),
                          ("projectW", [24, 16, 1, 1])], seeds: (7, 70))
    var nodes = [
        conv("stem", Conv(strides: [2, 2], pads: [1, 1, 1, 1]), ["x", "stemW", "stemWB"]),
        conv("dw", Conv(pads: [1, 1, 1, 1], group: 16), ["stem", "dwW", "dwWB"]),
        NodeSpec(name: "squeeze", opType: "GlobalAveragePool", op: GlobalAveragePool(), inputs: ["dw"], outputs: ["squeeze"]),
        conv("reduce", Conv(), ["squeeze", "reduceW", "reduceWB"]),
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["reduce"], outputs: ["reduced"]),
        conv("expand", Conv(), ["reduced", "expandW", "expandWB"]),
        NodeSpec(name: "gate", opType: "Sigmoid", op: Sigmoid(), inputs: ["expand"], outputs: ["gate"]),
        NodeSpec(name: "excite", opType: "Mul", op: Mul(), inputs: ["gate", "dw"], outputs: ["excited"]),
        conv("project", Conv(), ["excited", "projectW", "projectWB"]),
        NodeSpec(name: "head", opType: "GlobalAveragePool", op: GlobalAveragePool(), inputs: ["project"], outputs: ["y"]),
    ]
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(2), .fixed(3), .fixed(20), .fixed(26)])
    let outputs = [ValueInfo(name: "y", elementType: .float32, shape: nil)]
    let x = t([2, 3, 20, 26], pseudoRandom(2 * 3 * 20 * 26, seed: 64))
    // The third case also makes the excitation a graph output: its Mul cannot fold, so it scales
    // blocked (`BlockedChannelScale`) and one reorder gives the output in NCHW.
    for (order, excitedIsOutput) in [(["gate", "dw"], false), (["dw", "gate"], false), (["gate", "dw"], true)] {
        nodes[7].inputs = order
        let outputs = outputs + (excitedIsOutput ? [ValueInfo(name: "excited", elementType: .float32, shape: nil)] : [])
        let (plain, blocked, count, _, fast) = try blockedGraph(nodes, input: input, outputs: outputs, constants: constants)
        #expect(count == 3, "stem, dw and project; the squeeze's 1x1 convolutions on [N, C, 1, 1] stay")
        #expect(blocked.filter { $0.op is ChannelReorder }.count == (excitedIsOutput ? 1 : 0))
        #expect(blocked.filter { $0.op is BlockedGlobalAveragePool }.count == 2)
        // Otherwise the excitation's Mul folds into the projection's weights, rescaled per image.
        #expect(blocked.filter { $0.op is BlockedChannelScale }.count == (excitedIsOutput ? 1 : 0))
        #expect(blocked.compactMap { $0.op as? BlockedConv }.filter(\.scalesInput).count == (excitedIsOutput ? 0 : 1))
        try expectSameOutputs(fast, plain, feeds: ["x": x], names: outputs.map(\.name), tolerance: 2e-6, "\(order)")
    }
}
