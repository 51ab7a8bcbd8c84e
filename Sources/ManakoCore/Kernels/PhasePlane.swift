/// A padded copy of one input plane with its columns split into `stride` phases, shared by the
/// sliding-window kernels (depthwise convolution, max pooling): column c of the padded row lives
/// in phase c % stride at position c / stride, so every tap of a window row, at any stride and
/// dilation, reads eight consecutive outputs' inputs with one unit-stride load.
/// The padding holds `fill` (0 for convolution, -infinity for max pooling).
struct PhasePlane {
    let geometry: WindowGeometry
    let stride: Int
    let phaseWidth: Int
    let rowStride: Int
    /// Each tap's offset from its window's first element.
    let tapOffsets: [Int]
    let phaseStarts: [(column: Int, position: Int)]
    /// Per phase, the positions a loaded row's input columns fill; the rest of the row is `fill`.
    let realPositions: [Range<Int>]
    let fill: Float
    let scratch: UnsafeMutablePointer<Float>
    let capacity: Int

    init(_ g: WindowGeometry, fill: Float) {
        geometry = g
        let s = g.strideWidth
        stride = s
        // Rows and columns the windows reach (more than the padding with pooling's ceil mode).
        let paddedHeight = max(g.inHeight + g.padTop + g.padBottom, (g.outHeight - 1) * g.strideHeight + (g.kernelHeight - 1) * g.dilationHeight + 1)
        let paddedWidth = max(g.inWidth + g.padLeft + g.padRight, (g.outWidth - 1) * s + (g.kernelWidth - 1) * g.dilationWidth + 1)
        let vectorColumns = (g.outWidth + 7) / 8 * 8
        // Room for the last vector's reads past the real columns (which see `fill`).
        phaseWidth = max((paddedWidth + s - 1) / s, vectorColumns + (g.kernelWidth - 1) * g.dilationWidth / s)
        rowStride = s * phaseWidth
        let stridePhaseWidth = phaseWidth
        tapOffsets = (0..<(g.kernelHeight * g.kernelWidth)).map { tap in
            let ki = tap / g.kernelWidth, kj = tap % g.kernelWidth
            return ki * g.dilationHeight * s * stridePhaseWidth + (kj * g.dilationWidth) % s * stridePhaseWidth + kj * g.dilationWidth / s
        }
        phaseStarts = (0..<s).map { p in
            let column = ((p - g.padLeft) % s + s) % s
            return (column, (column + g.padLeft) / s)
        }
        realPositions = phaseStarts.map { start in
            start.position ..< start.position + max(0, (g.inWidth - start.column + s - 1) / s)
        }
        self.fill = fill
        capacity = paddedHeight * rowStride
        scratch = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        // Only the padding rows are written here: `load` writes every element of the rows it
        // loads, their padding columns too (a whole 224x224 stem's planes filled before each
        // run's parallel loop took a fifth of the stem's time on two threads).
        let interior = g.padTop * rowStride ..< min(capacity, (g.padTop + g.inHeight) * rowStride)
        scratch.initialize(repeating: fill, count: interior.lowerBound)
        (scratch + interior.upperBound).initialize(repeating: fill, count: capacity - interior.upperBound)
    }

    func deallocate() { scratch.deallocate() }

    /// Copies one [H, W] plane into the interior: a row copy at stride 1, an even/odd vector
    /// split at stride 2, element by element otherwise.
    func load(_ x: UnsafePointer<Float>) { load(x, rows: 0..<geometry.inHeight) }

    /// Loads `planes[c]` from plane c of x ([C, H, W]), the planes' rows split across threads
    /// (a 224x224 image's three planes were a tenth of a stem's time on two threads).
    static func load(_ planes: [PhasePlane], from x: UnsafePointer<Float>) {
        guard let g = planes.first?.geometry else { return }
        let rowParts = Parallel.ranges(g.inHeight), spatial = g.inHeight * g.inWidth
        Parallel.forEach(planes.count * rowParts.count) { item in
            let c = item / rowParts.count
            planes[c].load(x + c * spatial, rows: rowParts[item % rowParts.count])
        }
    }

    /// `load` for the plane's rows `rows` only (threads may load disjoint rows side by side).
    func load(_ x: UnsafePointer<Float>, rows: Range<Int>) {
        let g = geometry
        for row in rows {
            let source = x + row * g.inWidth
            let target = scratch + (row + g.padTop) * rowStride
            for (p, real) in realPositions.enumerated() {
                let phase = target + p * phaseWidth
                phase.update(repeating: fill, count: real.lowerBound)
                (phase + real.upperBound).update(repeating: fill, count: max(0, phaseWidth - real.upperBound))
            }
            if stride == 1 {
                // Eight at a time, the last eight overlapping (no call to memmove for short rows).
                let interior = target + g.padLeft
                if g.inWidth < 8 {
                    for c in 0..<g.inWidth { interior[c] = source[c] }
                    continue
                }
                var c = 0
                while c + 8 <= g.inWidth {
                    copyVector(from: source + c, to: interior + c)
                    c += 8
                }
                if c < g.inWidth { copyVector(from: source + g.inWidth - 8, to: interior + g.inWidth - 8) }
                continue
            }
            if stride == 2 {
                // Column c goes to phase (c + padLeft) % 2 at (c + padLeft) / 2; pairs start where that phase is 0.
                let first = g.padLeft % 2
                if first == 1 && g.inWidth > 0 { target[phaseWidth + g.padLeft / 2] = source[0] }
                var c = first
                let even = target + (c + g.padLeft) / 2, odd = target + phaseWidth + (c + g.padLeft) / 2
                var k = 0
                while c + 16 <= g.inWidth {
                    let v = UnsafeRawPointer(source + c).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(even + k).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(odd + k).storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
                    c += 16
                    k += 8
                }
                while c + 8 <= g.inWidth {
                    let v = UnsafeRawPointer(source + c).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(even + k).storeBytes(of: v.evenHalf, as: SIMD4<Float>.self)
                    UnsafeMutableRawPointer(odd + k).storeBytes(of: v.oddHalf, as: SIMD4<Float>.self)
                    c += 8
                    k += 4
                }
                while c < g.inWidth {
                    even[k] = source[c]
                    if c + 1 < g.inWidth { odd[k] = source[c + 1] }
                    c += 2
                    k += 1
                }
                continue
            }
            for p in 0..<stride {
                let phase = target + p * phaseWidth + phaseStarts[p].position
                var column = phaseStarts[p].column, k = 0
                while column < g.inWidth { phase[k] = source[column]; column += stride; k += 1 }
            }
        }
    }

    @inline(__always)
    private func copyVector(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(target).storeBytes(of: UnsafeRawPointer(source).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
    }

    /// The first element of the window of output (oh, ow).
    @inline(__always)
    func window(_ oh: Int, _ ow: Int) -> UnsafeMutablePointer<Float> {
        scratch + oh * geometry.strideHeight * rowStride + ow
    }

    /// Calls `body(y, ow)` for every eight-column vector of output row `oh` from column `start`
    /// and stores the vector it returns into `y` (a partial last vector stores only the columns
    /// that exist).
    @inline(__always)
    func forEachVector(row oh: Int, into y: UnsafeMutablePointer<Float>, from start: Int = 0,
                       _ body: (UnsafeMutablePointer<Float>) -> SIMD8<Float>) {
        let width = geometry.outWidth
        var ow = start
        while ow < width {
            let result = body(window(oh, ow))
            let out = y + oh * width + ow
            if ow + 8 <= width {
                UnsafeMutableRawPointer(out).storeBytes(of: result, as: SIMD8<Float>.self)
            } else {
                for k in 0..<(width - ow) { out[k] = result[k] }
            }
            ow += 8
        }
    }
}
