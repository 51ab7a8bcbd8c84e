import CManakoSIMD

/// 1x1 convolution (stride 1, no padding) in the channel-blocked layout, as a GEMM whose rows are
/// pixels: six pixels by sixteen output channels (two blocks) per register tile, each input channel
/// a broadcast of one pixel's value times sixteen packed weights, so no operand is copied at run time.
/// Layout: input [N, C/8, H, W, 8], weights packed at load as `PackedBGemm.PackedB` over W^T [C, M]
/// in slices of whole blocks, output [N, M/8, H, W, 8]. C and M are multiples of 8.
/// Twin: `ConvKernels.reference` with the input and output reordered (`ChannelBlocks`).
public enum BlockedPointwiseKernel {
    /// W [M, C, 1, 1] transposed to [C, M] and packed into 16-column tiles.
    public static func packWeights(_ weights: [Float], outChannels m: Int, inChannels c: Int) -> PackedBGemm.PackedB {
        let transposed = [Float](unsafeUninitializedCapacity: m * c) { target, initialized in
            weights.withUnsafeBufferPointer { source in
                for o in 0..<m { for i in 0..<c { target[i * m + o] = source[o * c + i] } }
            }
            initialized = m * c
        }
        return transposed.withUnsafeBufferPointer {
            PackedBGemm.PackedB($0.baseAddress!, depth: c, columns: m, sliceMultiple: ChannelBlocks.width)
        }
    }

    /// y = activation(W x + bias + residual) over `spatial` pixels of each of `batch` images.
    public static func run(_ x: UnsafePointer<Float>, batch: Int, spatial: Int, weights: PackedBGemm.PackedB,
                           bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                           into y: UnsafeMutablePointer<Float>) {
        let k = weights.depth, m = weights.columns, columnsPerTile = PanelGemm.columnsPerTile
        let tiles = (m + columnsPerTile - 1) / columnsPerTile
        let panels = (spatial + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        // Ranges of eight panels (48 pixels) per image; with few of them, the tiles split too
        // (each output still sums its input channels in one fixed order: any split, same bits).
        let ranges = (panels + 7) / 8
        let tileGroups = min(tiles, max(1, (4 * Parallel.threads + batch * ranges - 1) / (batch * ranges)))
        weights.values.withUnsafeBufferPointer { packed in
            Parallel.forEach(batch * ranges * tileGroups) { item in
                let group = item % tileGroups, range = item / tileGroups % ranges, image = item / tileGroups / ranges
                let input = x + image * k * spatial, output = y + image * m * spatial
                let imageResidual = residual.map { $0 + image * m * spatial }
                var k0 = 0
                while k0 < k {
                    let d = min(weights.sliceDepth, k - k0)
                    let slice = packed.baseAddress! + k0 * tiles * columnsPerTile
                    // A tile of the slice stays in L1 while the range's panels pass over it.
                    for t in (tiles * group / tileGroups)..<(tiles * (group + 1) / tileGroups) {
                        let width = min(columnsPerTile, m - t * columnsPerTile)
                        for panel in (range * 8)..<min(panels, range * 8 + 8) {
                            let first = panel * PanelGemm.rowsPerPanel
                            tile(input, spatial: spatial, firstPixel: first, count: min(PanelGemm.rowsPerPanel, spatial - first),
                                 firstChannel: k0, depth: d, slice + t * d * columnsPerTile, column: t * columnsPerTile,
                                 width: width, accumulate: k0 > 0, finish: k0 + d == k,
                                 bias: bias, residual: imageResidual, activation: activation.inRegisters, output)
                        }
                        // A curve runs once over the range's pixels of the tile's one or two blocks,
                        // still in L1 (one call per 48 pixels, not per tile).
                        if k0 + d == k && activation.isCurve {
                            let first = range * 8 * PanelGemm.rowsPerPanel, count = min(spatial, first + 8 * PanelGemm.rowsPerPanel) - first
                            for block in 0..<(width / ChannelBlocks.width) {
                                activation.applyCurve(output + (t * columnsPerTile + block * ChannelBlocks.width) * spatial + first * ChannelBlocks.width,
                                                      count: count * ChannelBlocks.width)
                            }
                        }
                    }
                    k0 += d
                }
            }
        }
    }

    /// Six pixels (`count` stored; the rest repeat the last) by one 16-column tile over input
    /// channels firstChannel ..< firstChannel + depth (whole blocks).
    @inline(__always)
    static func tile(_ x: UnsafePointer<Float>, spatial: Int, firstPixel: Int, count: Int, firstChannel: Int, depth: Int,
                     _ b: UnsafePointer<Float>, column: Int, width: Int, accumulate: Bool, finish: Bool,
                     bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                     _ y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, last = count - 1
        var sums = PanelGemm.TileSums()
        var pb = UnsafeRawPointer(b)
        var block = x + firstChannel * spatial + firstPixel * w
        let o1 = min(1, last) * w, o2 = min(2, last) * w, o3 = min(3, last) * w, o4 = min(4, last) * w, o5 = min(5, last) * w
        // A last tile of eight channels (M = 8 mod 16) does half the multiply-adds.
        if width > w {
            for _ in 0..<(depth / w) {
                for lane in 0..<w {
                    let a = block + lane
                    sums.add(a[0], a[o1], a[o2], a[o3], a[o4], a[o5],
                             pb.loadUnaligned(as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                    pb += 64
                }
                block += spatial * w
            }
        } else {
            for _ in 0..<(depth / w) {
                for lane in 0..<w {
                    let a = block + lane
                    sums.addHalf(a[0], a[o1], a[o2], a[o3], a[o4], a[o5], pb.loadUnaligned(as: SIMD8<Float>.self))
                    pb += 64
                }
                block += spatial * w
            }
        }
        storeTile(sums, firstPixel: firstPixel, count: count, spatial: spatial, column: column, width: width, accumulate: accumulate,
                  finish: finish, bias: bias, residual: residual, activation: activation, y)
    }

    /// A 6x16 tile of sums (six pixels by output channels column ..< column + width) into the
    /// blocked output of `spatial` pixels: `count` pixels stored, through `store`, the curve (if any)
    /// over the stored pixels after.
    @inline(__always)
    static func storeTile(_ sums: PanelGemm.TileSums, firstPixel: Int, count: Int, spatial: Int, column: Int, width: Int,
                          accumulate: Bool, finish: Bool, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                          activation: FusedActivation, _ y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width
        // Output channels column ..< column + 8 are block column / 8, the next eight the block after it.
        let low = column * spatial + firstPixel * w, high = low + spatial * w
        func emit(_ r: Int, _ l: SIMD8<Float>, _ h: SIMD8<Float>) {
            store(l, at: low + r * w, channels: column, accumulate: accumulate, finish: finish, bias: bias, residual: residual,
                  activation: activation.inRegisters, y)
            if width > w {
                store(h, at: high + r * w, channels: column + w, accumulate: accumulate, finish: finish, bias: bias,
                      residual: residual, activation: activation.inRegisters, y)
            }
        }
        emit(0, sums.c00, sums.c01)
        if count > 1 { emit(1, sums.c10, sums.c11) }
        if count > 2 { emit(2, sums.c20, sums.c21) }
        if count > 3 { emit(3, sums.c30, sums.c31) }
        if count > 4 { emit(4, sums.c40, sums.c41) }
        if count > 5 { emit(5, sums.c50, sums.c51) }
        if finish && activation.isCurve {
            // The stored pixels of a block are contiguous: the curve runs over them while in L1.
            activation.applyCurve(y + low, count: count * w)
            if width > w { activation.applyCurve(y + high, count: count * w) }
        }
    }

    /// One pixel's eight output channels: the running sum, or on the last slice the sum plus bias
    /// and residual through the activation.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, at offset: Int, channels: Int, accumulate: Bool, finish: Bool,
                      bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                      _ y: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(y + offset)
        var sum = v
        if accumulate { sum += out.loadUnaligned(as: SIMD8<Float>.self) }
        if finish {
            if let bias { sum += UnsafeRawPointer(bias + channels).loadUnaligned(as: SIMD8<Float>.self) }
            if let residual { sum += UnsafeRawPointer(residual + offset).loadUnaligned(as: SIMD8<Float>.self) }
            sum = activation.apply(sum)
        }
        out.storeBytes(of: sum, as: SIMD8<Float>.self)
    }
}
