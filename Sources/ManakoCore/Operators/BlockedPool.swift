import CManakoSIMD

/// MaxPool or AveragePool over a channel-blocked input (`ChannelBlocks`) into the blocked layout,
/// so a blocked chain runs through it (ResNet's stem, DenseNet's transitions). Not an ONNX
/// operator: only `GraphOptimizer.blockChannels` creates it from a 2-D MaxPool or AveragePool.
public struct BlockedPool: Operator {
    public let kind: PoolKernels.Kind
    let kernelShape: [Int]
    let strides, dilations, pads: [Int]?
    let autoPad: AutoPad
    let ceilMode: Bool

    public init(_ pool: MaxPool) {
        kind = .max
        (kernelShape, strides, dilations, pads, autoPad, ceilMode) = (pool.kernelShape, pool.strides, pool.dilations, pool.pads,
                                                                       pool.autoPad, pool.ceilMode)
    }

    public init(_ pool: AveragePool) {
        kind = pool.countIncludePad ? .averageIncludingPad : .average
        (kernelShape, strides, dilations, pads, autoPad, ceilMode) = (pool.kernelShape, pool.strides, pool.dilations, pool.pads,
                                                                       pool.autoPad, pool.ceilMode)
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank == 4, x.shape[1] % ChannelBlocks.width == 0 else {
            throw ManakoError(.shapeMismatch, "a blocked pool needs [N, C, H, W] with C a multiple of \(ChannelBlocks.width), got \(x.shape)")
        }
        let g = try WindowGeometry.make(input: x.shape, kernel: kernelShape, strides: strides, dilations: dilations, pads: pads,
                                        autoPad: autoPad, ceilMode: ceilMode)
        let shape = g.outputShape(channels: g.inChannels, spatialRank: 2)
        let values = try x.floatValues()
        let y = BufferPool.alignedFloats(shape.reduce(1, *)) { out in
            values.withUnsafeBufferPointer { BlockedPool.pool($0.baseAddress!, g, kind: kind, into: out.baseAddress!) }
        }
        return [Tensor(shape: shape, aligned: y)]
    }

    /// Each output pixel's eight channels are the maximum, or the mean, of its window's
    /// in-bounds taps, as `PoolKernels.pool`'s: a window wholly in the padding (ceil mode) yields
    /// -infinity or 0; a mean divides by the in-bounds taps, or with `averageIncludingPad` by
    /// those inside the input and its declared padding. The in-bounds taps of each output row and
    /// column are found once, so the loops over them test nothing.
    /// Layout: input [N, C/8, H, W, 8], output [N, C/8, OH, OW, 8].
    public static func pool(_ x: UnsafePointer<Float>, _ g: WindowGeometry, kind: Kind, into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, blocks = g.batch * g.inChannels / w
        let spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        /// The taps 0 ..< kernel of output position o along one axis that land inside 0 ..< size.
        func inBounds(_ o: Int, stride: Int, pad: Int, kernel: Int, dilation: Int, size: Int) -> Range<Int> {
            let start = o * stride - pad
            let first = start >= 0 ? 0 : (-start + dilation - 1) / dilation
            let end = start >= size ? 0 : min(kernel, (size - 1 - start) / dilation + 1)
            return first..<max(first, end)
        }
        let rows = (0..<g.outHeight).map { inBounds($0, stride: g.strideHeight, pad: g.padTop, kernel: g.kernelHeight,
                                                    dilation: g.dilationHeight, size: g.inHeight) }
        let columns = (0..<g.outWidth).map { inBounds($0, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth,
                                                       dilation: g.dilationWidth, size: g.inWidth) }
        /// A mean's divisor along one axis: the in-bounds taps, or those inside the declared padding too.
        func divisors(_ count: Int, _ taps: [Range<Int>], stride: Int, pad: Int, kernel: Int, dilation: Int, size: Int, endPad: Int) -> [Int] {
            kind == .averageIncludingPad
                ? (0..<count).map { PoolKernels.tapCount($0, stride: stride, pad: pad, kernel: kernel, dilation: dilation, size: size,
                                                         endPad: endPad, kind: .averageIncludingPad) }
                : taps.map(\.count)
        }
        let rowDivisors = divisors(g.outHeight, rows, stride: g.strideHeight, pad: g.padTop, kernel: g.kernelHeight,
                                   dilation: g.dilationHeight, size: g.inHeight, endPad: g.padBottom)
        let columnDivisors = divisors(g.outWidth, columns, stride: g.strideWidth, pad: g.padLeft, kernel: g.kernelWidth,
                                      dilation: g.dilationWidth, size: g.inWidth, endPad: g.padRight)
        let vectorBytes = w * MemoryLayout<Float>.stride
        // Per output column: the first in-bounds tap's byte offset in a row, and the tap count.
        let columnStarts = columns.enumerated().map { ow, taps in (ow * g.strideWidth - g.padLeft + taps.lowerBound * g.dilationWidth) * vectorBytes }
        let columnTaps = columns.map(\.count), tapStep = g.dilationWidth * vectorBytes
        let average = kind != .max
        // The output columns whose windows lie wholly inside the input: a contiguous run.
        let wholeColumns = (columnTaps.firstIndex(of: g.kernelWidth) ?? 0)..<((columnTaps.lastIndex(of: g.kernelWidth) ?? -1) + 1)
        // 3x3 windows two columns apart (ResNet's, DenseNet's and SqueezeNet's pools) share a
        // column with their neighbour: each column's maximum over the three rows is taken once.
        let sharesColumns = kind == .max && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideWidth == 2 && g.dilationWidth == 1
        columnStarts.withUnsafeBufferPointer { starts in
            columnTaps.withUnsafeBufferPointer { counts in
                /// Output row `oh` of block `b` (of all the batch's blocks).
                func poolRow(_ b: Int, _ oh: Int) {
                    let plane = UnsafeRawPointer(x + b * spatialIn * w), target = UnsafeMutableRawPointer(y + b * spatialOut * w)
                    let top = oh * g.strideHeight - g.padTop, taps = rows[oh]
                    let firstRow = plane + (top + taps.lowerBound * g.dilationHeight) * g.inWidth * vectorBytes
                    let rowStep = g.dilationHeight * g.inWidth * vectorBytes
                    let out = target + oh * g.outWidth * vectorBytes
                    // The next output row's new input rows, asked for a row ahead: the pool
                    // reads a plane the layer before wrote long ago (out of L2), and the
                    // prefetcher does not run far enough ahead on three rows at once.
                    let nextRows = oh + 1 < g.outHeight && taps.count == g.kernelHeight ? min(g.strideHeight, g.kernelHeight) : 0
                    let nextRow = firstRow + g.kernelHeight * rowStep
                    /// Asks for the next output row's new input rows at byte `start` of a row.
                    @inline(__always) func prefetchNextRows(_ start: Int) {
                        for r in 0..<nextRows { mk_prefetch(nextRow + r * rowStep + start) }
                    }
                    // A whole 3x3 max window (where columns are not shared: stride 1, the edges):
                    // nine maxima, unrolled, not two loops of run-time length per pixel.
                    let whole3x3 = kind == .max && g.kernelHeight == 3 && g.kernelWidth == 3 && taps.count == 3
                    // A whole 2x2 max window (VGG's pools): four taps, unrolled alike.
                    let whole2x2 = kind == .max && g.kernelHeight == 2 && g.kernelWidth == 2 && taps.count == 2
                    /// Output pixel `ow` of this row.
                    func poolPixel(_ ow: Int) {
                        if whole2x2 && counts[ow] == 2 {
                            let row = firstRow + starts[ow]
                            prefetchNextRows(starts[ow])
                            var result = mk_max(row.loadUnaligned(as: SIMD8<Float>.self), SIMD8<Float>(repeating: -.infinity))
                            result = mk_max(row.loadUnaligned(fromByteOffset: tapStep, as: SIMD8<Float>.self), result)
                            result = mk_max((row + rowStep).loadUnaligned(as: SIMD8<Float>.self), result)
                            result = mk_max((row + rowStep).loadUnaligned(fromByteOffset: tapStep, as: SIMD8<Float>.self), result)
                            out.storeBytes(of: result, toByteOffset: ow * vectorBytes, as: SIMD8<Float>.self)
                            return
                        }
                        if whole3x3 && counts[ow] == 3 {
                            var result = SIMD8<Float>(repeating: -.infinity), row = firstRow + starts[ow]
                            prefetchNextRows(starts[ow])
                            for _ in 0..<3 {
                                result = mk_max(row.loadUnaligned(as: SIMD8<Float>.self), result)
                                result = mk_max(row.loadUnaligned(fromByteOffset: tapStep, as: SIMD8<Float>.self), result)
                                result = mk_max(row.loadUnaligned(fromByteOffset: 2 * tapStep, as: SIMD8<Float>.self), result)
                                row += rowStep
                            }
                            out.storeBytes(of: result, toByteOffset: ow * vectorBytes, as: SIMD8<Float>.self)
                            return
                        }
                        var result = SIMD8<Float>(repeating: average ? 0 : -.infinity)
                        var row = firstRow + starts[ow]
                        for _ in 0..<taps.count {
                            var tap = row
                            for _ in 0..<counts[ow] {
                                let v = tap.loadUnaligned(as: SIMD8<Float>.self)
                                result = average ? result + v : mk_max(v, result)
                                tap += tapStep
                            }
                            row += rowStep
                        }
                        if average { result *= 1 / Float(max(1, rowDivisors[oh] * columnDivisors[ow])) }
                        out.storeBytes(of: result, toByteOffset: ow * vectorBytes, as: SIMD8<Float>.self)
                    }
                    var ow = 0
                    if sharesColumns && taps.count == 3 && wholeColumns.count >= 2 {
                        for column in 0..<wholeColumns.lowerBound { poolPixel(column) }
                        /// The maximum of one input column's three rows. A NaN tap is skipped, as on
                        /// every path (`mk_max` returns its second operand), so the order of the
                        /// nine maxima does not change the result.
                        @inline(__always) func columnMax(_ p: UnsafeRawPointer) -> SIMD8<Float> {
                            let upper = mk_max(p.loadUnaligned(as: SIMD8<Float>.self), SIMD8<Float>(repeating: -.infinity))
                            let middle = mk_max((p + rowStep).loadUnaligned(as: SIMD8<Float>.self), upper)
                            return mk_max((p + 2 * rowStep).loadUnaligned(as: SIMD8<Float>.self), middle)
                        }
                        var left = columnMax(firstRow + starts[wholeColumns.lowerBound])
                        for column in wholeColumns {
                            let start = starts[column]
                            prefetchNextRows(start)
                            let middle = columnMax(firstRow + start + vectorBytes), right = columnMax(firstRow + start + 2 * vectorBytes)
                            out.storeBytes(of: mk_max(mk_max(left, middle), right), toByteOffset: column * vectorBytes, as: SIMD8<Float>.self)
                            left = right
                        }
                        ow = wholeColumns.upperBound
                    }
                    while ow < g.outWidth {
                        poolPixel(ow)
                        ow += 1
                    }
                }
                guard Parallel.threads > 1 && blocks * spatialOut >= 1 << 10 else {
                    for b in 0..<blocks {
                        for oh in 0..<g.outHeight { poolRow(b, oh) }
                    }
                    return
                }
                // On several threads, one band of output rows (of every channel block) each: the
                // rows the layer before wrote on that core (it splits by pixels), and the rows the
                // 1x1 layer after reads there. Split by channel blocks, half of every thread's
                // input came from the other core: SqueezeNet's pools ran slower on two threads
                // than on one.
                let imageBlocks = blocks / g.batch
                Parallel.forEachEvenPart(of: g.batch * g.outHeight, split: true) { band in
                    for row in band {
                        let image = row / g.outHeight, oh = row % g.outHeight
                        for cb in 0..<imageBlocks { poolRow(image * imageBlocks + cb, oh) }
                    }
                }
            }
        }
    }

    public typealias Kind = PoolKernels.Kind

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        guard let x = inputs.first??.shape else { return nil }
        return try WindowGeometry.poolShapes(x, kernel: kernelShape, strides: strides, dilations: dilations, pads: pads,
                                             autoPad: autoPad, ceilMode: ceilMode)
    }
}
