import CManakoSIMD

/// Convolution with one group in the channel-blocked layout, as a GEMM whose rows are output
/// pixels: six pixels by sixteen output channels (two blocks) per register tile; per input block
/// and tap, each of its eight channels is a broadcast of six pixels' values times sixteen packed
/// weights. There is no im2col: a range's six-pixel panels are read in place, or (with three
/// tiles or more to pass over them) first copied side by side per step of k; a padded
/// convolution reads a zero-bordered copy of X. Sums start from the bias and residual and end
/// with a clamp in registers. A last tile of eight channels (M = 8 mod 16) takes two panels at
/// a time, twelve pixels by eight channels, to keep twelve chains of sums in flight.
/// Layout: input [N, C/8, H, W, 8], weights packed at load as `PackedBGemm.PackedB` over
/// W^T [K, M] with K ordered (C/8, KH, KW, 8) in slices of whole blocks, output [N, M/8, OH, OW, 8].
/// C and M are multiples of 8; any window, stride, dilation and padding.
/// Twin: `ConvKernels.reference` with the input and output reordered (`ChannelBlocks`).
public enum BlockedGemmConvKernel {
    /// W [M, C, KH, KW] as B [K, M], row (c / 8, tap, c % 8) of K holding channel c's tap, packed
    /// into 16-column tiles whose slices of K hold whole blocks of all taps.
    public static func packWeights(_ weights: [Float], outChannels m: Int, inChannels c: Int, taps: Int = 1) -> PackedBGemm.PackedB {
        let w = ChannelBlocks.width, depth = c * taps
        // Row ((i / 8) * taps + t) * 8 + i % 8 of B (channel block, tap, channel in the block) is
        // channel i, tap t of every filter: offset i * taps + t in each filter's weights.
        var offsets = [Int](repeating: 0, count: depth)
        for i in 0..<c {
            for t in 0..<taps { offsets[taps == 1 ? i : ((i / w) * taps + t) * w + i % w] = i * taps + t }
        }
        return weights.withUnsafeBufferPointer { source in
            offsets.withUnsafeBufferPointer { offsets in
                // One tap: the rows are in order, which the packing transposes in blocks.
                PackedBGemm.PackedB(columnsOf: source.baseAddress!, columnStride: depth, rowOffsets: taps == 1 ? nil : offsets.baseAddress!,
                                    depth: depth, columns: m, sliceMultiple: w * taps)
            }
        }
    }

    /// y = activation(conv(x, W) + bias + residual) for every image of `g.batch`.
    public static func run(_ x: UnsafePointer<Float>, geometry g: WindowGeometry, weights: PackedBGemm.PackedB,
                           bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                           into y: UnsafeMutablePointer<Float>) {
        run(parts: [(x, g.inChannels)], geometry: g, weights: weights, bias: bias, residual: residual, activation: activation, into: y)
    }

    /// A per-channel affine and activation applied to X as it is packed (a fused Concat's
    /// BatchNormalization and ReLU, DenseNet's pre-activation): pointers to C factors and offsets.
    public struct InputAffine {
        let scale: UnsafePointer<Float>
        let shift: UnsafePointer<Float>
        let activation: FusedActivation

        public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, activation: FusedActivation) {
            self.scale = scale
            self.shift = shift
            self.activation = activation
        }
    }

    /// The same with X the concatenation on channels of blocked `parts` (a fused Concat, read
    /// where the parts are: each step of k points into its part), through `inputAffine` if
    /// given; several parts or an affine only for a 1x1 convolution with no padding.
    public static func run(parts: [(UnsafePointer<Float>, channels: Int)], geometry g: WindowGeometry, weights: PackedBGemm.PackedB,
                           bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                           inputAffine: InputAffine? = nil, into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, taps = g.kernelHeight * g.kernelWidth
        let padded = g.padTop + g.padLeft + g.padBottom + g.padRight > 0
        precondition((parts.count == 1 && inputAffine == nil) || (taps == 1 && !padded), "parts only for 1x1 convolutions without padding")
        // The plane the windows read: X itself, or X with its zero border (tall and wide enough for every tap).
        let (planeHeight, planeWidth) = padded ? planeSize(g) : (g.inHeight, g.inWidth)
        let blocks = g.batch * g.inChannels / w, planeFloats = planeHeight * planeWidth * w
        let window = Window(rowStep: g.strideHeight * planeWidth * w, columnStep: g.strideWidth * w, outWidth: g.outWidth,
                            blockStride: planeFloats)
        let tapOffsets = (0..<taps).map { t in ((t / g.kernelWidth) * g.dilationHeight * planeWidth + (t % g.kernelWidth) * g.dilationWidth) * w }
        /// Where each image's steps of eight k (an input block's tap) start, from part 0's first
        /// float: [image][block][tap].
        func steps(_ base: UnsafePointer<Float>, _ parts: [(UnsafePointer<Float>, channels: Int)]) -> [Int] {
            var steps: [Int] = []
            steps.reserveCapacity(g.batch * g.inChannels / w * taps)
            for image in 0..<g.batch {
                for (start, channels) in parts {
                    let partBlocks = channels / w, imageStart = base.distance(to: start) + image * partBlocks * planeFloats
                    for block in 0..<partBlocks {
                        for t in tapOffsets { steps.append(imageStart + block * planeFloats + t) }
                    }
                }
            }
            return steps
        }
        guard padded else {
            steps(parts[0].0, parts).withUnsafeBufferPointer {
                multiply(parts[0].0, window, steps: $0.baseAddress!, geometry: g, weights: weights, bias: bias, residual: residual,
                         activation: activation, inputAffine: inputAffine, into: y)
            }
            return
        }
        let plane = BufferPool.floats(blocks * planeFloats) {
            ChannelBlocks.pad(parts[0].0, blocks: blocks, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft,
                              planeHeight: planeHeight, planeWidth: planeWidth, into: $0.baseAddress!)
        }
        plane.withUnsafeBufferPointer { planePointer in
            let base = UnsafePointer(planePointer.baseAddress!)
            steps(base, [(base, g.inChannels)]).withUnsafeBufferPointer {
                multiply(base, window, steps: $0.baseAddress!, geometry: g, weights: weights, bias: bias, residual: residual,
                         activation: activation, into: y)
            }
        }
        BufferPool.recycle(plane)
    }

    /// How `multiply` cuts its work: ranges of panels per image, groups of 16-column tiles per
    /// range, and whether panels are packed once up front (through a Concat's affine input).
    struct Split {
        let panelsPerRange, ranges, tileGroups: Int
        let prepacks: Bool
        /// Floats of one range's packed panels, and of all of them when packed up front.
        let rangeFloats, prepackedFloats: Int

        init(geometry g: WindowGeometry, weights: PackedBGemm.PackedB, throughAffine: Bool) {
            let k = weights.depth, m = weights.columns, columnsPerTile = PanelGemm.columnsPerTile, spatial = g.outHeight * g.outWidth
            let tiles = (m + columnsPerTile - 1) / columnsPerTile
            let panels = (spatial + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
            // Even ranges of up to eight panels (48 pixels) per image, or all of a plane of up to sixteen
            // (a 7x7 plane's 49 pixels would otherwise stream the weights twice, once for 1 pixel);
            // with few ranges, the tiles split too (each output still sums its input channels in one
            // fixed order: any split, same bits).
            // With one or two tiles (16 or 32 channels), a range of eight panels is under a
            // microsecond of work, less than its dispatch between threads: those take 32 or 16
            // (not on one thread, where the second tile then rereads A from L2).
            let small = Parallel.threads > 1 && tiles <= 2 && !throughAffine
            // A plane of 17 to 40 panels (14x14, 13x13): one range per thread, every tile in it. Ranges
            // of eight with split tiles had each thread pack pixels the other also reads, and read
            // channels the other wrote: ResNet-50's 14x14 layers scaled 1.55x from one thread to
            // two, 1.9x so (ResNet-50 and SqueezeNet 1-3 % faster on two threads; on one thread,
            // one range for the plane measured 0.7-1 % faster on ResNet-50, SqueezeNet, MobileNetV2).
            // But with 16 tiles (256 channels) or more, the weights outweigh the plane: then the plane
            // is one range whose tiles split evenly between the threads, each reading half the
            // weights (two threads: ResNet-50 2.5-3 %, SqueezeNet 4 %, MobileNetV2 2 %, B0 1 % faster).
            let midPlane = !small && g.batch == 1 && panels > 16 && panels <= 40
            let splitsTiles = midPlane && Parallel.threads > 1 && tiles >= 16
            let rangePerThread = midPlane && !splitsTiles
            panelsPerRange = splitsTiles ? panels : rangePerThread ? (panels + Parallel.threads - 1) / Parallel.threads
                : panels <= 16 ? max(panels, 1) : (small ? 32 / tiles : PanelGemm.evenRangeSize(panels, atMost: 8))
            ranges = (panels + panelsPerRange - 1) / panelsPerRange
            // One range (a 7x7 plane) whose tiles divide evenly: one group of tiles per thread (fewer,
            // larger items than four per thread: MobileNetV2 and B0 2 % faster on two threads).
            tileGroups = splitsTiles ? Parallel.threads : Parallel.threads == 1 || rangePerThread ? 1
                : g.batch * ranges == 1 && tiles % Parallel.threads == 0 ? Parallel.threads
                : min(tiles, max(1, (4 * Parallel.threads + g.batch * ranges - 1) / (g.batch * ranges)))
            // Split tiles pack their range's panels each: packing them once, up front, cost a
            // second fork and join and had each thread read the panels the other packed (two
            // threads: MobileNetV2 1.2-2.7 %, SqueezeNet 1.1-3.3 %, EfficientNet-B0 and Lite0 0-2 %
            // slower). Only panels through a Concat's BatchNormalization and
            // ReLU, whose packing costs more, are packed once for all tiles
            // ([image][range][slice][panel][step][pixel][8]).
            prepacks = tileGroups > 1 && throughAffine
            rangeFloats = panelsPerRange * PanelGemm.rowsPerPanel * k
            prepackedFloats = prepacks ? g.batch * ranges * rangeFloats : 0
        }
    }

    /// The pool buffers `run` takes for `g` at the current thread count, all out at once (a
    /// load's sizing run reserves them): a padded plane, and panels packed up front.
    public static func poolScratch(geometry g: WindowGeometry, weights: PackedBGemm.PackedB, throughAffine: Bool = false) -> [Int] {
        let padded = g.padTop + g.padLeft + g.padBottom + g.padRight > 0
        let (height, width) = planeSize(g), plane = !padded ? [] : [g.batch * g.inChannels * height * width]
        let split = Split(geometry: g, weights: weights, throughAffine: throughAffine)
        return plane + (split.prepacks ? [split.prepackedFloats] : [])
    }

    /// The plane a padded convolution's windows read: X with its zero border, tall and wide
    /// enough for every tap.
    static func planeSize(_ g: WindowGeometry) -> (height: Int, width: Int) {
        (max(g.inHeight + g.padTop + g.padBottom, (g.outHeight - 1) * g.strideHeight + (g.kernelHeight - 1) * g.dilationHeight + 1),
         max(g.inWidth + g.padLeft + g.padRight, (g.outWidth - 1) * g.strideWidth + (g.kernelWidth - 1) * g.dilationWidth + 1))
    }

    /// How output pixels map to the plane they read: pixel (oh, ow) of a block starts at
    /// oh * rowStep + ow * columnStep floats; an image's blocks are blockStride floats apart.
    struct Window {
        let rowStep, columnStep, outWidth, blockStride: Int
        /// The offsets of pixels first ..< first + count, those past `last` repeating it (one
        /// division for the lot: a division per pixel cost as much as a small layer's tile).
        func offsets(from first: Int, count: Int, last: Int, into target: UnsafeMutablePointer<Int>) {
            if rowStep == outWidth &* columnStep {
                // Rows follow each other with no gap (a 1x1 convolution at stride 1): pixel p is p
                // columns in. A loop without branches: the general one cost a tenth of a 16 -> 32
                // layer at 112x112, whose tiles are short.
                for p in 0..<count { target[p] = Swift.min(first &+ p, last) &* columnStep }
                return
            }
            var (row, column) = first.quotientAndRemainder(dividingBy: outWidth)
            var offset = row * rowStep + column * columnStep
            for p in 0..<count {
                target[p] = offset
                if first + p < last {
                    column += 1
                    offset += columnStep
                    if column == outWidth {
                        column = 0
                        row += 1
                        offset = row * rowStep
                    }
                }
            }
        }
    }

    @inline(never)
    static func multiply(_ x: UnsafePointer<Float>, _ window: Window, steps: UnsafePointer<Int>, geometry g: WindowGeometry,
                         weights: PackedBGemm.PackedB, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                         activation: FusedActivation, inputAffine: InputAffine? = nil, into y: UnsafeMutablePointer<Float>) {
        let k = weights.depth, m = weights.columns, columnsPerTile = PanelGemm.columnsPerTile, spatial = g.outHeight * g.outWidth
        let tiles = (m + columnsPerTile - 1) / columnsPerTile
        let panels = (spatial + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        let split = Split(geometry: g, weights: weights, throughAffine: inputAffine != nil)
        let (panelsPerRange, ranges, tileGroups, prepacks) = (split.panelsPerRange, split.ranges, split.tileGroups, split.prepacks)
        let rangeFloats = split.rangeFloats, slices = (k + weights.sliceDepth - 1) / weights.sliceDepth
        let prepacked = !prepacks ? [] : BufferPool.floats(split.prepackedFloats) { target in
            Parallel.forEach(g.batch * ranges * slices) { item in
                let slice = item % slices, range = item / slices % ranges, image = item / slices / ranges
                let k0 = slice * weights.sliceDepth, d = min(weights.sliceDepth, k - k0)
                let firstPanel = range * panelsPerRange, panelCount = min(panels, firstPanel + panelsPerRange) - firstPanel
                Scratch.withFloats(2 * panelCount * PanelGemm.rowsPerPanel) { scratch in
                    let pixelOffsets = UnsafeMutableRawPointer(scratch).bindMemory(to: Int.self, capacity: panelCount * PanelGemm.rowsPerPanel)
                    window.offsets(from: firstPanel * PanelGemm.rowsPerPanel, count: panelCount * PanelGemm.rowsPerPanel,
                                   last: spatial - 1, into: pixelOffsets)
                    packSlice(x, pixelOffsets: pixelOffsets, panelCount: panelCount,
                              steps: steps + image * (k / ChannelBlocks.width) + k0 / ChannelBlocks.width, depth: d, firstChannel: k0,
                              inputAffine: inputAffine,
                              into: target.baseAddress! + (image * ranges + range) * rangeFloats + k0 * panelCount * PanelGemm.rowsPerPanel)
                }
            }
        }
        weights.values.withUnsafeBufferPointer { packed in
            prepacked.withUnsafeBufferPointer { prepacked in
                Parallel.forEach(g.batch * ranges * tileGroups) { item in
                    let group = item % tileGroups, range = item / tileGroups % ranges, image = item / tileGroups / ranges
                    let firstPanel = range * panelsPerRange, endPanel = min(panels, firstPanel + panelsPerRange)
                    Scratch.withFloats(scratchFloats(panels: panelsPerRange, weights: weights)) { scratch in
                        multiplyRange(x, window, steps: steps + image * (k / ChannelBlocks.width), weights: weights,
                                      packed: packed.baseAddress!, panels: firstPanel..<endPanel, pixels: spatial, spatial: spatial,
                                      tileRange: Parallel.evenPart(group, of: tiles, parts: tileGroups), bias: bias,
                                      residual: residual.map { $0 + image * m * spatial }, activation: activation,
                                      inputAffine: inputAffine, prepacked: prepacks ? prepacked.baseAddress! + (image * ranges + range) * rangeFloats : nil,
                                      into: y + image * m * spatial, scratch: scratch)
                    }
                }
            }
        }
        if prepacks { BufferPool.recycle(prepacked) }
    }

    /// Scratch floats `multiplyRange` needs for up to `panels` panels.
    static func scratchFloats(panels: Int, weights: PackedBGemm.PackedB) -> Int {
        panels * PanelGemm.rowsPerPanel * (2 + min(weights.sliceDepth, weights.depth)) + 8
    }

    /// The GEMM's unit of work: `panels` of one image's pixels (of which the first `pixels` are
    /// real; the output's blocks are `spatial` pixels apart) by the 16-column tiles `tileRange`;
    /// `prepacked`, if given, holds the panels already packed for every slice of k.
    @inline(never)
    static func multiplyRange(_ input: UnsafePointer<Float>, _ window: Window, steps: UnsafePointer<Int>, weights: PackedBGemm.PackedB,
                              packed: UnsafePointer<Float>, panels: Range<Int>, pixels: Int, spatial: Int, tileRange: Range<Int>,
                              bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                              inputAffine: InputAffine? = nil, prepacked: UnsafePointer<Float>? = nil,
                              into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let k = weights.depth, m = weights.columns, columnsPerTile = PanelGemm.columnsPerTile
        let tiles = (m + columnsPerTile - 1) / columnsPerTile
        let (firstPanel, endPanel) = (panels.lowerBound, panels.upperBound)
        // With several tiles to pass over them and four or more steps of k, the range's pixels
        // are first packed per panel into [step][pixel][8] (one stream for the tiles to read, not one
        // per step); otherwise the tiles read them in place.
        // (An input affine is applied as the panels are packed: they always are.)
        // Decided by the layer's tiles, not this item's: a lone pixel sums in another order
        // packed than in place, and the result must not depend on how the tiles split.
        let packs = prepacked != nil || inputAffine != nil || (tiles >= 3 && min(weights.sliceDepth, k) >= 32)
        // 24 or 32 output channels read in place take both tiles in one pass (`widePass`).
        let wide = !packs && tiles == 2 && tileRange.count == 2 && m > columnsPerTile
        // The panels' pixel offsets (Ints, two floats' room each), then the packed panels.
        let pixelOffsets = UnsafeMutableRawPointer(scratch).bindMemory(to: Int.self, capacity: panels.count * PanelGemm.rowsPerPanel)
        let panelsA = scratch + 2 * panels.count * PanelGemm.rowsPerPanel
        window.offsets(from: firstPanel * PanelGemm.rowsPerPanel, count: panels.count * PanelGemm.rowsPerPanel, last: pixels - 1,
                       into: pixelOffsets)
        let clamp = activation.clampBounds
        /// A curve runs once over the range's pixels of output channels column ..< column + width,
        /// still in L1 (one call for the tile's blocks).
        func applyCurve(column: Int, width: Int) {
            let first = firstPanel * PanelGemm.rowsPerPanel, count = min(pixels, endPanel * PanelGemm.rowsPerPanel) - first
            activation.applyCurve(output + column * spatial + first * ChannelBlocks.width, rows: 1, columns: count * ChannelBlocks.width,
                                  rowStride: 0, blocks: width / ChannelBlocks.width, blockStride: spatial * ChannelBlocks.width)
        }
        var k0 = 0
        while k0 < k {
            let d = min(weights.sliceDepth, k - k0)
            let slice = packed + k0 * tiles * columnsPerTile
            let sliceSteps = steps + k0 / ChannelBlocks.width
            let sliceA = prepacked.map { $0 + k0 * panels.count * PanelGemm.rowsPerPanel } ?? UnsafePointer(panelsA)
            if packs && prepacked == nil {
                packSlice(input, pixelOffsets: pixelOffsets, panelCount: panels.count, steps: sliceSteps, depth: d, firstChannel: k0,
                          inputAffine: inputAffine, into: panelsA)
            }
            func panelsOut(column: Int, width: Int) -> PanelsOut {
                PanelsOut(firstPanel: firstPanel, endPanel: endPanel, pixels: pixels, spatial: spatial, column: column, width: width,
                          accumulate: k0 > 0, bias: k0 > 0 ? nil : bias,
                          residual: k0 > 0 ? nil : residual, clamp: k0 + d == k ? clamp : nil, y: output)
            }
            if wide {
                widePass(input, pixelOffsets: pixelOffsets, steps: sliceSteps, stepCount: d / ChannelBlocks.width, slice, depth: d,
                         panelsOut(column: 0, width: m))
                if k0 + d == k && activation.isCurve { applyCurve(column: 0, width: m) }
                k0 += d
                continue
            }
            // A tile of the slice stays in L1 while the range's panels pass over it.
            for t in tileRange {
                let width = min(columnsPerTile, m - t * columnsPerTile)
                let out = panelsOut(column: t * columnsPerTile, width: width)
                if packs {
                    // The last tile of the last slice has no next tile to prefetch: its weights end the buffer.
                    packedTilePass(sliceA, depth: d, slice + t * d * columnsPerTile, prefetchesNext: t + 1 < tiles || k0 + d < k, out)
                } else {
                    tilePass(input, pixelOffsets: pixelOffsets, steps: sliceSteps, stepCount: d / ChannelBlocks.width,
                             slice + t * d * columnsPerTile, out)
                }
                if k0 + d == k && activation.isCurve { applyCurve(column: t * columnsPerTile, width: width) }
            }
            k0 += d
        }
    }

    /// All of a 24- or 32-column output (both tiles of the slice at `b`, `depth` k each) over the
    /// range's pixels read in place, three pixels by three or four blocks at a time
    /// (`mk_wide_tile3x3`, `mk_wide_tile3x4`; groups divide a panel's six): the input is read once, where two tiles
    /// read it twice and a last tile of eight columns keeps few chains of sums. (Two pixels by
    /// four blocks, eight chains waiting on the multiply-add latency, took 15 % longer on
    /// MobileNetV2's 32-channel projections.)
    @inline(never)
    static func widePass(_ x: UnsafePointer<Float>, pixelOffsets: UnsafePointer<Int>, steps: UnsafePointer<Int>, stepCount: Int,
                         _ b: UnsafePointer<Float>, depth: Int, _ out: PanelsOut) {
        let w = ChannelBlocks.width, blocks = out.width / w, group = 3
        let first = out.firstPanel * PanelGemm.rowsPerPanel, end = min(out.pixels, out.endPanel * PanelGemm.rowsPerPanel)
        let tile1 = b + depth * PanelGemm.columnsPerTile, blockFloats = out.spatial * w
        var clamp: Int32 = 0, lower = SIMD8<Float>(), upper = SIMD8<Float>()
        if let bounds = out.clamp { (clamp, lower, upper) = (1, bounds.lower, bounds.upper) }
        let addend = out.accumulate ? UnsafePointer(out.y) : out.residual
        var pixel = first
        while pixel < end {
            let count = Int32(min(group, end - pixel)), offsets = pixelOffsets + (pixel - first), at = pixel * w
            if blocks == 3 {
                mk_wide_tile3x3(x, steps, stepCount, offsets, b, tile1, count, out.bias, addend.map { $0 + at }, blockFloats, clamp,
                                lower, upper, out.y + at)
            } else {
                mk_wide_tile3x4(x, steps, stepCount, offsets, b, tile1, count, out.bias, addend.map { $0 + at }, blockFloats, clamp,
                                lower, upper, out.y + at)
            }
            pixel += group
        }
    }

    /// A range's `panelCount` panels (pixels at `pixelOffsets`) over the slice of k at `steps`
    /// (`depth` floats, from channel `firstChannel`) into [panel][step][pixel][8], through the input
    /// affine if given.
    static func packSlice(_ input: UnsafePointer<Float>, pixelOffsets: UnsafePointer<Int>, panelCount: Int, steps: UnsafePointer<Int>,
                          depth d: Int, firstChannel: Int, inputAffine: InputAffine?, into panelsA: UnsafeMutablePointer<Float>) {
        for panel in 0..<panelCount {
            let panelOffsets = pixelOffsets + panel * PanelGemm.rowsPerPanel, target = panelsA + panel * PanelGemm.rowsPerPanel * d
            if let inputAffine {
                packAffine(input, pixelOffsets: panelOffsets, steps: steps, count: d / ChannelBlocks.width, firstChannel: firstChannel,
                           inputAffine, into: target)
            } else {
                pack(input, pixelOffsets: panelOffsets, steps: steps, count: d / ChannelBlocks.width, into: target)
            }
        }
    }

    /// One tile's pass over a range of panels: where its sums go, what they start from and what
    /// finishes them.
    struct PanelsOut {
        let firstPanel, endPanel, pixels, spatial, column, width: Int
        /// Sums start from Y's running sums (a later slice of k), else from the bias plus the
        /// residual (the first slice; either may be nil).
        let accumulate: Bool
        let bias, residual: UnsafePointer<Float>?
        /// The last slice's clamp (ReLU, Clip), applied in registers before the store.
        let clamp: (lower: SIMD8<Float>, upper: SIMD8<Float>)?
        let y: UnsafeMutablePointer<Float>

        @inline(__always)
        func start(_ firstPixel: Int, _ count: Int) -> PanelGemm.TileSums {
            BlockedGemmConvKernel.startSums(firstPixel: firstPixel, count: count, spatial: spatial, column: column, width: width,
                                            accumulate: accumulate, bias: bias, residual: residual, y)
        }

        @inline(__always)
        func finish(_ sums: PanelGemm.TileSums, _ firstPixel: Int, _ count: Int) {
            BlockedGemmConvKernel.finishTile(sums, firstPixel: firstPixel, count: count, spatial: spatial, column: column,
                                             width: width, clamp: clamp, y)
        }

        /// `start` for two whole panels of an eight-column tile: the second panel's six pixels
        /// take the place of the second block.
        @inline(__always)
        func startPair(_ firstPixel: Int) -> PanelGemm.TileSums {
            BlockedGemmConvKernel.startSums(firstPixel: firstPixel, count: PanelGemm.rowsPerPanel, spatial: spatial, column: column,
                                            width: width, accumulate: accumulate, bias: bias, residual: residual, y,
                                            pairedPanels: true)
        }

        @inline(__always)
        func finishPair(_ sums: PanelGemm.TileSums, _ firstPixel: Int) {
            BlockedGemmConvKernel.finishTile(sums, firstPixel: firstPixel, count: PanelGemm.rowsPerPanel, spatial: spatial,
                                             column: column, width: width, clamp: clamp, y, pairedPanels: true)
        }

        /// Panels first ..< end whose pixels are all real (the last panel may hold fewer).
        var wholePanelsEnd: Int { min(endPanel, pixels / PanelGemm.rowsPerPanel) }
    }

    /// One 16-column tile of B over the range's packed panels ([panel][step][pixel][8]). A call per
    /// tile, not per panel: the tile's loop is inlined here, where the argument traffic is paid once.
    @inline(never)
    static func packedTilePass(_ panelsA: UnsafePointer<Float>, depth: Int, _ b: UnsafePointer<Float>, prefetchesNext: Bool,
                               _ out: PanelsOut) {
        // `packedTile` prefetches the next tile's weights, or (with none after this one) its own.
        let ahead = prefetchesNext ? depth * 64 : 0
        let rows = PanelGemm.rowsPerPanel, pairs = out.width <= ChannelBlocks.width
        var panel = out.firstPanel
        while panel < out.endPanel {
            let first = panel * rows, count = min(rows, out.pixels - first)
            let a = panelsA + (panel - out.firstPanel) * rows * depth
            // An eight-column tile takes whole panels two at a time: twelve chains of sums.
            if pairs && panel + 2 <= out.wholePanelsEnd {
                packedHalfTilePair(a, a + rows * depth, depth: depth, b, firstPixel: first, out)
                panel += 2
                continue
            }
            if count == 1 {
                lonePixelTile(a, depth: depth, b, firstPixel: first, out)
            } else {
                packedTile(a, depth: depth, b, ahead: ahead, firstPixel: first, count: count, out)
            }
            panel += 1
        }
    }

    /// A panel holding one pixel (a 7x7 plane's 49th) by one 16-column tile: four chains of
    /// sums (even and odd k), not six rows' worth of multiply-adds for one row.
    @inline(never)
    static func lonePixelTile(_ a: UnsafePointer<Float>, depth: Int, _ b: UnsafePointer<Float>, firstPixel: Int, _ out: PanelsOut) {
        let w = ChannelBlocks.width, stepFloats = PanelGemm.rowsPerPanel * w
        var sums = out.start(firstPixel, 1)
        var oddLow = SIMD8<Float>(), oddHigh = SIMD8<Float>()
        var pa = a, pb = UnsafeRawPointer(b)
        // The pixel's eight k of a step are the step's first eight floats (depth is whole steps).
        for _ in 0..<depth / w {
            for lane in stride(from: 0, to: w, by: 2) {
                let even = SIMD8<Float>(repeating: pa[lane]), odd = SIMD8<Float>(repeating: pa[lane + 1])
                sums.c00 = mk_multiply_add(even, pb.loadUnaligned(as: SIMD8<Float>.self), sums.c00)
                sums.c01 = mk_multiply_add(even, pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), sums.c01)
                oddLow = mk_multiply_add(odd, pb.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), oddLow)
                oddHigh = mk_multiply_add(odd, pb.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self), oddHigh)
                pb += 128
            }
            pa += stepFloats
        }
        sums.c00 += oddLow
        sums.c01 += oddHigh
        out.finish(sums, firstPixel, 1)
    }

    /// Two whole packed panels (`low`, `high`) by an eight-column tile: twelve chains of sums,
    /// where one panel's six would wait on the multiply-add latency.
    @inline(__always)
    static func packedHalfTilePair(_ low: UnsafePointer<Float>, _ high: UnsafePointer<Float>, depth: Int, _ b: UnsafePointer<Float>,
                                   firstPixel: Int, _ out: PanelsOut) {
        let w = ChannelBlocks.width, stepFloats = PanelGemm.rowsPerPanel * w
        var sums = out.startPair(firstPixel)
        var pa = low, ph = high, pb = UnsafeRawPointer(b)
        for _ in 0..<depth / w {
            for lane in 0..<w {
                sums.addPair(low: pa + lane, high: ph + lane, pb.loadUnaligned(as: SIMD8<Float>.self))
                pb += 64
            }
            pa += stepFloats
            ph += stepFloats
        }
        out.finishPair(sums, firstPixel)
    }

    /// One 16-column tile of B over the range's panels read in place.
    @inline(never)
    static func tilePass(_ x: UnsafePointer<Float>, pixelOffsets: UnsafePointer<Int>, steps: UnsafePointer<Int>, stepCount: Int,
                      _ b: UnsafePointer<Float>, _ out: PanelsOut) {
        let rows = PanelGemm.rowsPerPanel, pairs = out.width <= ChannelBlocks.width
        var panel = out.firstPanel
        while panel < out.endPanel {
            let first = panel * rows, offsets = pixelOffsets + (panel - out.firstPanel) * rows
            // An eight-column tile takes whole panels two at a time where their twelve pixels lie
            // side by side in X (a 1x1 convolution, a row's inner pixels): twelve chains of sums.
            if pairs && panel + 2 <= out.wholePanelsEnd && (1..<(2 * rows)).allSatisfy({ offsets[$0] - offsets[$0 - 1] == ChannelBlocks.width }) {
                halfTilePair(x + offsets[0], steps: steps, stepCount: stepCount, b, firstPixel: first, out)
                panel += 2
            } else {
                tile(x, pixelOffsets: offsets, steps: steps, stepCount: stepCount, b, firstPixel: first,
                     count: min(rows, out.pixels - first), out)
                panel += 1
            }
        }
    }

    /// A panel's six pixels (at `pixelOffsets`) over `count` steps of eight k (an input block's
    /// tap, at `steps`), copied into [step][pixel][8]: each step's six vectors side by side, so
    /// the tiles read one stream, not one per step. (A copy, not a transpose to [k][6], which
    /// cost a tenth of ResNet's 64x256 layers.)
    @inline(__always)
    static func pack(_ x: UnsafePointer<Float>, pixelOffsets: UnsafePointer<Int>, steps: UnsafePointer<Int>, count: Int,
                     into target: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, f = MemoryLayout<Float>.stride
        let o0 = pixelOffsets[0] * f, o1 = pixelOffsets[1] * f, o2 = pixelOffsets[2] * f, o3 = pixelOffsets[3] * f
        let o4 = pixelOffsets[4] * f, o5 = pixelOffsets[5] * f
        var out = UnsafeMutableRawPointer(target)
        for s in 0..<count {
            let step = UnsafeRawPointer(x + steps[s])
            out.storeBytes(of: step.loadUnaligned(fromByteOffset: o0, as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            out.storeBytes(of: step.loadUnaligned(fromByteOffset: o1, as: SIMD8<Float>.self), toByteOffset: 32, as: SIMD8<Float>.self)
            out.storeBytes(of: step.loadUnaligned(fromByteOffset: o2, as: SIMD8<Float>.self), toByteOffset: 64, as: SIMD8<Float>.self)
            out.storeBytes(of: step.loadUnaligned(fromByteOffset: o3, as: SIMD8<Float>.self), toByteOffset: 96, as: SIMD8<Float>.self)
            out.storeBytes(of: step.loadUnaligned(fromByteOffset: o4, as: SIMD8<Float>.self), toByteOffset: 128, as: SIMD8<Float>.self)
            out.storeBytes(of: step.loadUnaligned(fromByteOffset: o5, as: SIMD8<Float>.self), toByteOffset: 160, as: SIMD8<Float>.self)
            out += PanelGemm.rowsPerPanel * w * f
        }
    }

    /// `pack` for a 1x1 convolution with X through a per-channel affine and activation (step s
    /// holds channels firstChannel + 8s ..< firstChannel + 8s + 8).
    @inline(never)
    static func packAffine(_ x: UnsafePointer<Float>, pixelOffsets: UnsafePointer<Int>, steps: UnsafePointer<Int>, count: Int,
                           firstChannel: Int, _ affine: InputAffine, into target: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, f = MemoryLayout<Float>.stride
        var out = UnsafeMutableRawPointer(target)
        for s in 0..<count {
            let step = UnsafeRawPointer(x + steps[s]), channel = firstChannel + s * w
            let scale = UnsafeRawPointer(affine.scale + channel).loadUnaligned(as: SIMD8<Float>.self)
            let shift = UnsafeRawPointer(affine.shift + channel).loadUnaligned(as: SIMD8<Float>.self)
            for i in 0..<PanelGemm.rowsPerPanel {
                let v = step.loadUnaligned(fromByteOffset: pixelOffsets[i] * f, as: SIMD8<Float>.self)
                out.storeBytes(of: affine.activation.apply(v * scale + shift), toByteOffset: i * w * f, as: SIMD8<Float>.self)
            }
            out += PanelGemm.rowsPerPanel * w * f
        }
    }

    /// Six pixels (`count` stored) packed as [step][pixel][8] by one 16-column tile, prefetching
    /// the weights `ahead` bytes past those it reads.
    @inline(__always)
    static func packedTile(_ a: UnsafePointer<Float>, depth: Int, _ b: UnsafePointer<Float>, ahead: Int, firstPixel: Int, count: Int,
                           _ out: PanelsOut) {
        let w = ChannelBlocks.width, stepFloats = PanelGemm.rowsPerPanel * w
        var sums = out.start(firstPixel, count)
        var pa = a, pb = UnsafeRawPointer(b)
        // The next tile's weights (depth rows of 64 bytes on) come into L2 while this one's are
        // used: where the weights outgrow the caches, the first panel over a tile otherwise waits
        // on them (into L1 they evicted this tile's weights and panels: ResNet-50 5-8 % slower).
        // Never past the weights: a prefetch into memory not yet touched walks the page tables on
        // every try and is dropped (a layer of 256 -> 64 channels at 56x56 ran 3-4x slower so).
        if out.width > w {
            for _ in 0..<depth / w {
                for lane in 0..<w {
                    mk_prefetch_l2(pb + ahead)
                    let p = pa + lane
                    sums.add(p[0], p[8], p[16], p[24], p[32], p[40],
                             pb.loadUnaligned(as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                    pb += 64
                }
                pa += stepFloats
            }
        } else {
            for _ in 0..<depth / w {
                for lane in 0..<w {
                    let p = pa + lane
                    sums.addHalf(p[0], p[8], p[16], p[24], p[32], p[40], pb.loadUnaligned(as: SIMD8<Float>.self))
                    pb += 64
                }
                pa += stepFloats
            }
        }
        out.finish(sums, firstPixel, count)
    }

    /// Twelve pixels side by side in X (from `origin`) by an eight-column tile, as two panels.
    @inline(__always)
    static func halfTilePair(_ origin: UnsafePointer<Float>, steps: UnsafePointer<Int>, stepCount: Int, _ b: UnsafePointer<Float>,
                             firstPixel: Int, _ out: PanelsOut) {
        let w = ChannelBlocks.width
        var sums = out.startPair(firstPixel)
        var pb = UnsafeRawPointer(b)
        for s in 0..<stepCount {
            let step = origin + steps[s]
            for lane in 0..<w {
                sums.addPair(low: step + lane, high: step + lane + PanelGemm.rowsPerPanel * w, pb.loadUnaligned(as: SIMD8<Float>.self))
                pb += 64
            }
        }
        out.finishPair(sums, firstPixel)
    }

    /// Six pixels (`count` stored; the rest repeat the last, at `pixelOffsets`) by one 16-column
    /// tile over `stepCount` steps of eight k (an input block's tap, at `steps`), read in place.
    @inline(__always)
    static func tile(_ x: UnsafePointer<Float>, pixelOffsets: UnsafePointer<Int>, steps: UnsafePointer<Int>, stepCount: Int,
                     _ b: UnsafePointer<Float>, firstPixel: Int, count: Int, _ out: PanelsOut) {
        let w = ChannelBlocks.width
        var sums = out.start(firstPixel, count)
        var pb = UnsafeRawPointer(b)
        let o0 = pixelOffsets[0]
        let o1 = pixelOffsets[1] - o0, o2 = pixelOffsets[2] - o0, o3 = pixelOffsets[3] - o0
        let o4 = pixelOffsets[4] - o0, o5 = pixelOffsets[5] - o0
        let origin = x + o0
        // A last tile of eight channels (M = 8 mod 16) does half the multiply-adds.
        if out.width > w {
            for s in 0..<stepCount {
                let step = origin + steps[s]
                for lane in 0..<w {
                    let a = step + lane
                    sums.add(a[0], a[o1], a[o2], a[o3], a[o4], a[o5],
                             pb.loadUnaligned(as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                    pb += 64
                }
            }
        } else {
            for s in 0..<stepCount {
                let step = origin + steps[s]
                for lane in 0..<w {
                    let a = step + lane
                    sums.addHalf(a[0], a[o1], a[o2], a[o3], a[o4], a[o5], pb.loadUnaligned(as: SIMD8<Float>.self))
                    pb += 64
                }
            }
        }
        out.finish(sums, firstPixel, count)
    }

    /// The sums a 6x16 tile (six pixels by output channels column ..< column + width of a blocked
    /// output of `spatial` pixels) starts from: Y's running sums when accumulating, else the bias
    /// plus the residual, so that the last slice of k only clamps and stores. Rows past `count`
    /// are never read.
    /// With `pairedPanels`, the tile is eight columns by two whole panels: the second block's
    /// sums are the next six pixels of the same block.
    @inline(__always)
    static func startSums(firstPixel: Int, count: Int, spatial: Int, column: Int, width: Int, accumulate: Bool,
                          bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                          _ y: UnsafeMutablePointer<Float>, pairedPanels: Bool = false) -> PanelGemm.TileSums {
        let w = ChannelBlocks.width, wide = pairedPanels || width > w, rowBytes = w * MemoryLayout<Float>.stride
        var sums = PanelGemm.TileSums()
        if !accumulate, let bias {
            let b = UnsafeRawPointer(bias + column), low = b.loadUnaligned(as: SIMD8<Float>.self)
            let high = pairedPanels ? low : width > w ? b.loadUnaligned(fromByteOffset: rowBytes, as: SIMD8<Float>.self) : SIMD8()
            sums = PanelGemm.TileSums(rows: low, high)
        }
        // Output channels column ..< column + 8 are block column / 8, the next eight the block after it.
        if let source = accumulate ? UnsafePointer(y) : residual {
            let low = UnsafeRawPointer(source + column * spatial + firstPixel * w)
            sums.add(rows: count, low: low, high: low + (pairedPanels ? PanelGemm.rowsPerPanel : spatial) * rowBytes,
                     stride: rowBytes, wide: wide)
        }
        return sums
    }

    /// Stores a tile's first `count` rows where `startSums` read them, clamped first if `clamp`.
    @inline(__always)
    static func finishTile(_ sums: PanelGemm.TileSums, firstPixel: Int, count: Int, spatial: Int, column: Int, width: Int,
                           clamp: (lower: SIMD8<Float>, upper: SIMD8<Float>)?, _ y: UnsafeMutablePointer<Float>,
                           pairedPanels: Bool = false) {
        let w = ChannelBlocks.width, rowBytes = w * MemoryLayout<Float>.stride
        var sums = sums
        if let clamp { sums.clamp(clamp.lower, clamp.upper) }
        let low = UnsafeMutableRawPointer(y + column * spatial + firstPixel * w)
        sums.store(rows: count, low: low, high: low + (pairedPanels ? PanelGemm.rowsPerPanel : spatial) * rowBytes, stride: rowBytes,
                   wide: pairedPanels || width > w)
    }
}
