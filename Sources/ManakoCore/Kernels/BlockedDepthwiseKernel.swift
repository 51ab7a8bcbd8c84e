import CManakoSIMD

/// Depthwise convolution in the channel-blocked layout: an output pixel's eight channels are the
/// sum over its window of weight vector times input vector, eight pixels of a row at a time (eight
/// FMA chains; 3x3 and 5x5 windows at stride 1 and 2 through the C microkernel `mk_depthwise`, in
/// near-equal groups of 4 to 8). Any stride or dilation is a plain pointer step, and the plane is not
/// copied: pixels at the left and right edges take their own path over the taps inside, and rows
/// with no room for a group read a zero vector for each tap outside.
/// Layout: input [N, C/8, H, W, 8], weights packed as [C/8, KH * KW, 8], output [N, C/8, OH, OW, 8].
/// Twin: `ConvKernels.reference` with groups == channels, the input and output reordered.
public enum BlockedDepthwiseKernel {
    static let pixelsPerGroup = 8

    /// W [C, 1, KH, KW] as [C/8, tap, 8].
    public static func packWeights(_ weights: [Float], channels: Int, taps: Int) -> [Float] {
        let w = ChannelBlocks.width
        var packed = [Float](repeating: 0, count: channels * taps)
        for c in 0..<channels { for tap in 0..<taps { packed[(c / w * taps + tap) * w + c % w] = weights[c * taps + tap] } }
        return packed
    }

    /// y = activation(depthwise(x) + bias + residual), residual in the output's layout.
    public static func run(_ x: UnsafePointer<Float>, geometry g: WindowGeometry, weights: UnsafePointer<Float>,
                           bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                           into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, taps = g.kernelHeight * g.kernelWidth
        let channelBlocks = g.inChannels / w, blocks = g.batch * channelBlocks
        let inPlane = g.inHeight * g.inWidth * w, outPlane = g.outHeight * g.outWidth * w
        // Output columns whose windows lie inside the input's columns.
        let firstInterior = min(g.outWidth, (g.padLeft + g.strideWidth - 1) / g.strideWidth)
        let lastStart = g.inWidth - 1 + g.padLeft - (g.kernelWidth - 1) * g.dilationWidth
        let endInterior = lastStart < 0 ? 0 : min(g.outWidth, lastStart / g.strideWidth + 1)
        let rowSplits = blocks >= 4 * Parallel.threads ? 1 : min(g.outHeight, (4 * Parallel.threads + blocks - 1) / max(1, blocks))
        let interiorWidth = endInterior - firstInterior
        let microkernel = g.dilationWidth == 1 ? Microkernel(width: g.kernelWidth, stride: g.strideWidth) : nil
        if let shape = microkernel, runsPadded(g) {
            padded(x, geometry: g, weights: weights, bias: bias, residual: residual, activation: activation, shape, into: y)
            return
        }
        Parallel.forEach(blocks * rowSplits) { item in
            let block = item / rowSplits, split = item % rowSplits
            let source = x + block * inPlane, target = y + block * outPlane
            let blockResidual = residual.map { $0 + block * outPlane }
            let filter = weights + block % channelBlocks * taps * w
            let start = bias.map { UnsafeRawPointer($0 + block % channelBlocks * w).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
            for oh in Parallel.evenPart(split, of: g.outHeight, parts: rowSplits) {
                func pixels(_ ow: Int, _ count: Int, checked: Bool) {
                    group(source, g, filter, start, row: oh, column: ow, count: count, checked: checked,
                          residual: blockResidual, activation: activation.inRegisters, target)
                }
                func edges(_ columns: Range<Int>) {
                    for ow in columns { single(source, g, filter, start, row: oh, column: ow, residual: blockResidual,
                                               activation: activation.inRegisters, target) }
                }
                if let shape = microkernel, interiorWidth >= 4 {
                    edges(0..<firstInterior)
                    inGroups(firstInterior..<endInterior) { column, count in
                        shared(source, g, filter, start, row: oh, column: column, shape, pixels: count, residual: blockResidual,
                               activation: activation.inRegisters, target)
                    }
                    edges(endInterior..<g.outWidth)
                } else if interiorWidth >= pixelsPerGroup {
                    // Border pixels one at a time; the interior in groups of eight, the last group
                    // moved back to end at the interior's end (a few pixels computed twice, same bits).
                    edges(0..<firstInterior)
                    var ow = firstInterior
                    while ow < endInterior {
                        pixels(min(ow, endInterior - pixelsPerGroup), pixelsPerGroup, checked: false)
                        ow += pixelsPerGroup
                    }
                    edges(endInterior..<g.outWidth)
                } else {
                    var ow = 0
                    while ow < g.outWidth {
                        pixels(ow, min(pixelsPerGroup, g.outWidth - ow), checked: true)
                        ow += pixelsPerGroup
                    }
                }
                // A curve runs over the row while it is still in L1 (see `FusedActivation.isCurve`).
                if activation.isCurve { activation.applyCurve(target + oh * g.outWidth * w, count: g.outWidth * w) }
            }
        }
    }

    /// Up to this output width a block's plane is copied into a zero-padded scratch first: the
    /// edge pixels (two of every 7 or 14) then take the microkernel like the rest, instead of
    /// one-pixel paths that cost as much as a group of eight.
    static let paddedPlaneWidth = 32

    /// Whether `run` takes `padded` for `g`: every block's plane is copied before any of its
    /// outputs is written, so an output plane the size of the input's may overwrite it.
    public static func runsPadded(_ g: WindowGeometry) -> Bool {
        g.dilationWidth == 1 && Microkernel(width: g.kernelWidth, stride: g.strideWidth) != nil
            && g.outWidth >= 4 && g.outWidth <= paddedPlaneWidth
    }

    /// `run` over zero-padded copies of each block's plane (in L1 at these sizes): every output
    /// row in the microkernel's groups (`inGroups`).
    static func padded(_ x: UnsafePointer<Float>, geometry g: WindowGeometry, weights: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: FusedActivation,
                       _ shape: Microkernel, into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, taps = g.kernelHeight * g.kernelWidth
        let channelBlocks = g.inChannels / w, blocks = g.batch * channelBlocks
        let inPlane = g.inHeight * g.inWidth * w, outPlane = g.outHeight * g.outWidth * w
        let width = g.inWidth + g.padLeft + g.padRight, height = g.inHeight + g.padTop + g.padBottom
        let rowStride = width * w
        let parts = Parallel.ranges(blocks)
        Parallel.forEach(parts.count) { part in
            Scratch.withFloats(height * rowStride) { plane in
                // The padding stays zero; each block overwrites only the interior.
                plane.initialize(repeating: 0, count: height * rowStride)
                for block in parts[part] {
                    let source = x + block * inPlane, target = y + block * outPlane
                    for row in 0..<g.inHeight {
                        (plane + ((row + g.padTop) * width + g.padLeft) * w).update(from: source + row * g.inWidth * w, count: g.inWidth * w)
                    }
                    let filter = weights + block % channelBlocks * taps * w
                    let start = bias.map { UnsafeRawPointer($0 + block % channelBlocks * w).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
                    let blockResidual = residual.map { $0 + block * outPlane }
                    for oh in 0..<g.outHeight {
                        let rowStart = plane + oh * g.strideHeight * rowStride
                        inGroups(0..<g.outWidth) { ow, count in
                            microkernel(rowStart + ow * g.strideWidth * w, rowStride: g.dilationHeight * rowStride,
                                        rows: Int32(g.kernelHeight), weights: filter, start, shape, pixels: count,
                                        residual: blockResidual, activation: activation.inRegisters, target,
                                        offset: (oh * g.outWidth + ow) * w)
                        }
                    }
                    // The block's plane (at most 32 pixels wide) in one call (see `FusedActivation.applyCurve`).
                    if activation.isCurve { activation.applyCurve(target, count: outPlane) }
                }
            }
        }
    }

    /// Calls `body(column, count)` over `columns` (at least four wide) in groups of eight, the
    /// last one or two of 4 to 7 (a rest of 1 to 3 shares its last group of eight: 10 as 5 + 5):
    /// every pixel computed once, and as many chains of sums in each call as the row allows.
    @inline(__always)
    public static func inGroups(_ columns: Range<Int>, _ body: (_ column: Int, _ count: Int) -> Void) {
        var ow = columns.lowerBound
        while columns.upperBound - ow == pixelsPerGroup || columns.upperBound - ow >= pixelsPerGroup + 4 {
            body(ow, pixelsPerGroup)
            ow += pixelsPerGroup
        }
        var rest = columns.upperBound - ow
        if rest > pixelsPerGroup {
            body(ow, rest / 2)
            ow += rest / 2
            rest -= rest / 2
        }
        if rest > 0 { body(ow, rest) }
    }

    /// The window widths and strides with a C microkernel (`mk_depthwise`) that loads each input
    /// vector of a row once for all the windows holding it.
    enum Microkernel {
        case k3s1, k3s2, k5s1, k5s2

        init?(width: Int, stride: Int) {
            switch (width, stride) {
            case (3, 1): self = .k3s1
            case (3, 2): self = .k3s2
            case (5, 1): self = .k5s1
            case (5, 2): self = .k5s2
            default: return nil
            }
        }
    }

    /// Eight or four interior pixels through the microkernel, then residual and activation over
    /// them in place.
    @inline(__always)
    static func shared(_ x: UnsafePointer<Float>, _ g: WindowGeometry, _ filter: UnsafePointer<Float>, _ start: SIMD8<Float>,
                       row oh: Int, column ow: Int, _ shape: Microkernel, pixels: Int, residual: UnsafePointer<Float>?,
                       activation: FusedActivation, _ y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width
        let (top, firstTap, endTap) = tapRows(g, oh)
        let rows = Int32(max(0, endTap - firstTap)), rowStride = g.dilationHeight * g.inWidth * w
        let input = x + ((top + firstTap * g.dilationHeight) * g.inWidth + ow * g.strideWidth - g.padLeft) * w
        let weights = filter + firstTap * g.kernelWidth * w
        let offset = (oh * g.outWidth + ow) * w
        microkernel(input, rowStride: rowStride, rows: rows, weights: weights, start, shape, pixels: pixels,
                    residual: residual, activation: activation, y, offset: offset)
    }

    /// The microkernel's sums of `pixels` output pixels into `y + offset`, then the residual and
    /// activation over them in place; a ReLU or clip without a residual is fused into the store.
    /// Kernel row r is read at `input + r * rowStride`, or at `input + rowOffsets[r]` if given.
    @inline(__always)
    static func microkernel(_ input: UnsafePointer<Float>, rowStride: Int, rowOffsets: UnsafePointer<Int>? = nil, rows: Int32,
                            weights: UnsafePointer<Float>, _ start: SIMD8<Float>, _ shape: Microkernel, pixels: Int,
                            residual: UnsafePointer<Float>?, activation: FusedActivation, _ y: UnsafeMutablePointer<Float>, offset: Int) {
        let w = ChannelBlocks.width, out = y + offset
        var clamp: Int32 = 0, lo = SIMD8<Float>(), hi = SIMD8<Float>()
        if residual == nil {
            switch activation {
            case .relu: clamp = 1; hi = SIMD8(repeating: .infinity)
            case .clip(let low, let high): clamp = 1; lo = SIMD8(repeating: low); hi = SIMD8(repeating: high)
            default: break
            }
        }
        switch shape {
        case .k3s1: mk_depthwise_k3s1(input, rowStride, rowOffsets, rows, weights, start, clamp, lo, hi, Int32(pixels), out)
        case .k3s2: mk_depthwise_k3s2(input, rowStride, rowOffsets, rows, weights, start, clamp, lo, hi, Int32(pixels), out)
        case .k5s1: mk_depthwise_k5s1(input, rowStride, rowOffsets, rows, weights, start, clamp, lo, hi, Int32(pixels), out)
        case .k5s2: mk_depthwise_k5s2(input, rowStride, rowOffsets, rows, weights, start, clamp, lo, hi, Int32(pixels), out)
        }
        if clamp != 0 || (residual == nil && activation == .none) { return }
        for j in 0..<pixels {
            let target = UnsafeMutableRawPointer(out + j * w)
            var v = target.loadUnaligned(as: SIMD8<Float>.self)
            if let residual { v += UnsafeRawPointer(residual + offset + j * w).loadUnaligned(as: SIMD8<Float>.self) }
            target.storeBytes(of: activation.apply(v), as: SIMD8<Float>.self)
        }
    }

    /// The kernel rows (first, end) of output row `oh` whose input row exists.
    @inline(__always)
    static func tapRows(_ g: WindowGeometry, _ oh: Int) -> (top: Int, first: Int, end: Int) {
        let top = oh &* g.strideHeight &- g.padTop
        let first = top >= 0 ? 0 : (g.dilationHeight &- 1 &- top) / g.dilationHeight
        let end = top > g.inHeight &- 1 ? 0 : min(g.kernelHeight, (g.inHeight &- 1 &- top) / g.dilationHeight &+ 1)
        return (top, first, end)
    }

    /// One output pixel near the left or right edge: the taps inside the input, two FMA chains.
    @inline(__always)
    static func single(_ x: UnsafePointer<Float>, _ g: WindowGeometry, _ filter: UnsafePointer<Float>, _ start: SIMD8<Float>,
                       row oh: Int, column ow: Int, residual: UnsafePointer<Float>?, activation: FusedActivation,
                       _ y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width
        let (top, firstRow, endRow) = tapRows(g, oh)
        let left = ow &* g.strideWidth &- g.padLeft
        let firstColumn = left >= 0 ? 0 : (g.dilationWidth &- 1 &- left) / g.dilationWidth
        let endColumn = left > g.inWidth &- 1 ? 0 : min(g.kernelWidth, (g.inWidth &- 1 &- left) / g.dilationWidth &+ 1)
        var even = start, odd = SIMD8<Float>()
        for ky in firstRow..<max(firstRow, endRow) {
            let inputRow = x + (top &+ ky &* g.dilationHeight) &* g.inWidth &* w
            for kx in firstColumn..<max(firstColumn, endColumn) {
                let v = UnsafeRawPointer(filter + (ky &* g.kernelWidth &+ kx) &* w).loadUnaligned(as: SIMD8<Float>.self)
                let input = UnsafeRawPointer(inputRow + (left &+ kx &* g.dilationWidth) &* w).loadUnaligned(as: SIMD8<Float>.self)
                if kx & 1 == 0 { even = mk_multiply_add(v, input, even) } else { odd = mk_multiply_add(v, input, odd) }
            }
        }
        var sum = even + odd
        let offset = (oh &* g.outWidth &+ ow) &* w
        if let residual { sum += UnsafeRawPointer(residual + offset).loadUnaligned(as: SIMD8<Float>.self) }
        UnsafeMutableRawPointer(y + offset).storeBytes(of: activation.apply(sum), as: SIMD8<Float>.self)
    }

    /// Output pixels (row, column ..< column + count) of one block; lanes past `count` repeat the
    /// last pixel and are not stored. `checked` groups read a zero vector for taps outside the
    /// columns; rows outside the input are skipped in both.
    @inline(__always)
    static func group(_ x: UnsafePointer<Float>, _ g: WindowGeometry, _ filter: UnsafePointer<Float>, _ start: SIMD8<Float>,
                      row oh: Int, column ow: Int, count: Int, checked: Bool,
                      residual: UnsafePointer<Float>?, activation: FusedActivation, _ y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, bytes = MemoryLayout<Float>.stride * w
        let (top, firstTap, endTap) = tapRows(g, oh)
        // Each lane's column offset from the group's first, in input columns (lanes past `count` repeat the last).
        let last = count - 1, sw = g.strideWidth
        let c1 = min(1, last) &* sw, c2 = min(2, last) &* sw, c3 = min(3, last) &* sw
        let c4 = min(4, last) &* sw, c5 = min(5, last) &* sw, c6 = min(6, last) &* sw, c7 = min(7, last) &* sw
        let zero = SIMD8<Float>()
        var a0 = start, a1 = start, a2 = start, a3 = start, a4 = start, a5 = start, a6 = start, a7 = start
        var ky = firstTap
        while ky < endTap {
            let inputRow = UnsafeRawPointer(x + (top &+ ky &* g.dilationHeight) &* g.inWidth &* w)
            var tapWeights = UnsafeRawPointer(filter + ky &* g.kernelWidth &* w)
            var left = ow &* sw &- g.padLeft
            for _ in 0..<g.kernelWidth {
                let v = tapWeights.loadUnaligned(as: SIMD8<Float>.self)
                if checked {
                    @inline(__always) func pixel(_ offset: Int) -> SIMD8<Float> {
                        let column = left &+ offset
                        return UInt(bitPattern: column) < UInt(g.inWidth) ? (inputRow + column &* bytes).loadUnaligned(as: SIMD8<Float>.self) : zero
                    }
                    a0 = mk_multiply_add(v, pixel(0), a0)
                    a1 = mk_multiply_add(v, pixel(c1), a1)
                    a2 = mk_multiply_add(v, pixel(c2), a2)
                    a3 = mk_multiply_add(v, pixel(c3), a3)
                    a4 = mk_multiply_add(v, pixel(c4), a4)
                    a5 = mk_multiply_add(v, pixel(c5), a5)
                    a6 = mk_multiply_add(v, pixel(c6), a6)
                    a7 = mk_multiply_add(v, pixel(c7), a7)
                } else {
                    let p = inputRow + left &* bytes
                    a0 = mk_multiply_add(v, p.loadUnaligned(as: SIMD8<Float>.self), a0)
                    a1 = mk_multiply_add(v, p.loadUnaligned(fromByteOffset: c1 &* bytes, as: SIMD8<Float>.self), a1)
                    a2 = mk_multiply_add(v, p.loadUnaligned(fromByteOffset: c2 &* bytes, as: SIMD8<Float>.self), a2)
                    a3 = mk_multiply_add(v, p.loadUnaligned(fromByteOffset: c3 &* bytes, as: SIMD8<Float>.self), a3)
                    a4 = mk_multiply_add(v, p.loadUnaligned(fromByteOffset: c4 &* bytes, as: SIMD8<Float>.self), a4)
                    a5 = mk_multiply_add(v, p.loadUnaligned(fromByteOffset: c5 &* bytes, as: SIMD8<Float>.self), a5)
                    a6 = mk_multiply_add(v, p.loadUnaligned(fromByteOffset: c6 &* bytes, as: SIMD8<Float>.self), a6)
                    a7 = mk_multiply_add(v, p.loadUnaligned(fromByteOffset: c7 &* bytes, as: SIMD8<Float>.self), a7)
                }
                tapWeights += bytes
                left &+= g.dilationWidth
            }
            ky += 1
        }
        let out = y + (oh * g.outWidth + ow) * w
        @inline(__always) func store(_ j: Int, _ sum: SIMD8<Float>) {
            var v = sum
            if let residual { v += UnsafeRawPointer(residual + (oh * g.outWidth + ow + j) * w).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(out + j * w).storeBytes(of: activation.apply(v), as: SIMD8<Float>.self)
        }
        store(0, a0)
        if count > 1 { store(1, a1) }
        if count > 2 { store(2, a2) }
        if count > 3 { store(3, a3) }
        if count > 4 { store(4, a4) }
        if count > 5 { store(5, a5) }
        if count > 6 { store(6, a6) }
        if count > 7 { store(7, a7) }
    }
}
