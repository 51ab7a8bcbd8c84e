import CManakoSIMD

/// Depthwise convolution (one filter per channel), direct, on blocks of four output rows by
/// sixteen (or eight) columns: eight independent accumulator chains per tap, so the FMAs are not
/// bound by their latency, and each broadcast weight feeds all of them. Each input plane is copied
/// once into a zero-padded `PhasePlane`, so every tap of every stride and dilation is a
/// unit-stride 8-lane load; bias and clamps are applied in registers before the store, SiLU
/// and HardSwish over each finished plane.
/// Layout: input [N, C, H, W], weights [C, 1, KH, KW], output [N, C, OH, OW].
/// Twin: `ConvKernels.reference` with groups == channels.
public enum DepthwiseKernel {
    static let rowsPerBlock = 4

    public static func run(input: [Float], weights: [Float], bias: [Float]?, geometry g: WindowGeometry,
                           activation: FusedActivation) -> [Float] {
        let spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        let taps = g.kernelHeight * g.kernelWidth
        let planeCount = g.batch * g.inChannels
        return BufferPool.floats(planeCount * spatialOut) { output in
            input.withUnsafeBufferPointer { xb in
                weights.withUnsafeBufferPointer { wb in
                    let yBase = output.baseAddress!
                    let parts = Parallel.ranges(planeCount)
                    Parallel.forEach(parts.count) { part in
                        let scratch = PhasePlane(g, fill: 0)
                        defer { scratch.deallocate() }
                        // Tap offsets in bytes, so the inner loop adds them without scaling.
                        let byteOffsets = scratch.tapOffsets.map { $0 * MemoryLayout<Float>.stride }
                        byteOffsets.withUnsafeBufferPointer { offsets in
                            for plane in parts[part] {
                                let c = plane % g.inChannels
                                scratch.load(xb.baseAddress! + plane * spatialIn)
                                convolvePlane(scratch, offsets: offsets.baseAddress!, taps: taps,
                                              weights: wb.baseAddress! + c * taps, bias: bias?[c] ?? 0,
                                              activation: activation.inRegisters, into: yBase + plane * spatialOut)
                                // A curve runs over the plane while it is still in cache (see `isCurve`).
                                if activation.isCurve { activation.applyCurve(yBase + plane * spatialOut, count: spatialOut) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One loaded plane into its [OH, OW] output. Rows past the last of a partial block repeat the
    /// last row (computed, never stored), which keeps every read inside the plane. When a row is one
    /// vector step wide (7x7 and 14x14 planes), its partial vector is stored whole, spilling into
    /// the next rows' first columns, which are stored after it; the plane's end is never crossed.
    @inline(__always)
    static func convolvePlane(_ plane: PhasePlane, offsets: UnsafePointer<Int>, taps: Int, weights w: UnsafePointer<Float>,
                              bias: Float, activation: FusedActivation, into y: UnsafeMutablePointer<Float>) {
        let g = plane.geometry, width = g.outWidth, lastRow = g.outHeight - 1
        let start = SIMD8<Float>(repeating: bias)
        let singleStep = width <= 16
        var oh = 0
        while oh <= lastRow {
            let rows = min(rowsPerBlock, lastRow + 1 - oh)
            var ow = 0
            while ow < width {
                let p0 = UnsafeRawPointer(plane.window(oh, ow)), p1 = UnsafeRawPointer(plane.window(min(oh + 1, lastRow), ow))
                let p2 = UnsafeRawPointer(plane.window(min(oh + 2, lastRow), ow)), p3 = UnsafeRawPointer(plane.window(min(oh + 3, lastRow), ow))
                let out = y + oh * width + ow, room = (lastRow + 1) * width - oh * width - ow
                let count = min(16, width - ow)
                // Lanes to store for block row r: whole vectors while they stay in the plane.
                func lanes(_ r: Int, _ vector: Int) -> Int { singleStep && room - r * width >= vector ? vector : count }
                if width - ow > 8 {
                    var a00 = start, a01 = start, a10 = start, a11 = start, a20 = start, a21 = start, a30 = start, a31 = start
                    for tap in 0..<taps {
                        let o = offsets[tap], v = SIMD8<Float>(repeating: w[tap])
                        a00 = mk_multiply_add(v, p0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a00)
                        a01 = mk_multiply_add(v, p0.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), a01)
                        a10 = mk_multiply_add(v, p1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a10)
                        a11 = mk_multiply_add(v, p1.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), a11)
                        a20 = mk_multiply_add(v, p2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a20)
                        a21 = mk_multiply_add(v, p2.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), a21)
                        a30 = mk_multiply_add(v, p3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a30)
                        a31 = mk_multiply_add(v, p3.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), a31)
                    }
                    store(activation.apply(a00), activation.apply(a01), count: lanes(0, 16), to: out)
                    if rows > 1 { store(activation.apply(a10), activation.apply(a11), count: lanes(1, 16), to: out + width) }
                    if rows > 2 { store(activation.apply(a20), activation.apply(a21), count: lanes(2, 16), to: out + 2 * width) }
                    if rows > 3 { store(activation.apply(a30), activation.apply(a31), count: lanes(3, 16), to: out + 3 * width) }
                    ow += 16
                } else {
                    var a0 = start, a1 = start, a2 = start, a3 = start
                    for tap in 0..<taps {
                        let o = offsets[tap], v = SIMD8<Float>(repeating: w[tap])
                        a0 = mk_multiply_add(v, p0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a0)
                        a1 = mk_multiply_add(v, p1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a1)
                        a2 = mk_multiply_add(v, p2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a2)
                        a3 = mk_multiply_add(v, p3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), a3)
                    }
                    store(activation.apply(a0), count: lanes(0, 8), to: out)
                    if rows > 1 { store(activation.apply(a1), count: lanes(1, 8), to: out + width) }
                    if rows > 2 { store(activation.apply(a2), count: lanes(2, 8), to: out + 2 * width) }
                    if rows > 3 { store(activation.apply(a3), count: lanes(3, 8), to: out + 3 * width) }
                    ow += 8
                }
            }
            oh += rowsPerBlock
        }
    }

    /// Stores the first `count` (1...16) of sixteen lanes.
    @inline(__always)
    static func store(_ low: SIMD8<Float>, _ high: SIMD8<Float>, count: Int, to out: UnsafeMutablePointer<Float>) {
        if count == 16 {
            UnsafeMutableRawPointer(out).storeBytes(of: low, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(out).storeBytes(of: high, toByteOffset: 32, as: SIMD8<Float>.self)
        } else {
            store(low, count: min(8, count), to: out)
            if count > 8 { store(high, count: count - 8, to: out + 8) }
        }
    }

    /// Stores the first `count` (1...8) of eight lanes.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, count: Int, to out: UnsafeMutablePointer<Float>) {
        if count == 8 {
            UnsafeMutableRawPointer(out).storeBytes(of: v, as: SIMD8<Float>.self)
        } else {
            for k in 0..<count { out[k] = v[k] }
        }
    }
}
