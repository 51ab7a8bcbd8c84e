import CManakoSIMD

/// Copies a strided view of a tensor into a new row-major one: the gather behind Transpose,
/// Slice, Expand, Split and Where's broadcasting. Element (i0, i1, ...) of the output is
/// `source[offset + i0 * strides[0] + i1 * strides[1] + ...]`; a stride may be 0 (broadcast) or
/// negative (a reversed slice).
/// Algorithm: merge adjacent axes that walk memory as one, then copy row by row; a row is a block
/// copy (stride 1), a fill (stride 0) or a strided loop, and the row's start advances like an
/// odometer. Large float copies split their rows across threads.
/// Layout: any; the output is row-major over `shape`. Twin: `reference`, tested on awkward views.
public enum StridedCopy {
    /// The view's axes with size-1 axes dropped and neighbours merged where
    /// `strides[d] == strides[d + 1] * shape[d + 1]` (at least one axis, possibly of size 1).
    public static func merged(shape: [Int], strides: [Int]) -> (shape: [Int], strides: [Int]) {
        var outShape: [Int] = [], outStrides: [Int] = []
        for d in shape.indices where shape[d] != 1 {
            if let lastSize = outShape.last, let lastStride = outStrides.last, lastStride == strides[d] * shape[d] {
                outShape[outShape.count - 1] = lastSize * shape[d]
                outStrides[outStrides.count - 1] = strides[d]
            } else {
                outShape.append(shape[d])
                outStrides.append(strides[d])
            }
        }
        if outShape.isEmpty { return ([1], [1]) }
        return (outShape, outStrides)
    }

    /// The view as a new array of `shape.reduce(1, *)` elements.
    @inline(__always)
    public static func copy<T>(_ source: [T], offset: Int, shape: [Int], strides: [Int]) -> [T] {
        let total = shape.reduce(1, *)
        if total == 0 { return [] }
        return [T].uninitialized(capacity: total) { buffer, initialized in
            source.withUnsafeBufferPointer { src in
                copy(src.baseAddress! + offset, shape: shape, strides: strides, into: buffer.baseAddress!, parallel: false)
            }
            initialized = total
        }
    }

    /// Float views through the run's buffer pool, rows split across threads when large. A view
    /// whose innermost axis is strided while another axis is contiguous (a transpose of the last
    /// two axes, NHWC to NCHW) goes through 8x8 register transposes instead.
    public static func copy(_ source: [Float], offset: Int, shape: [Int], strides: [Int]) -> [Float] {
        let total = shape.reduce(1, *)
        return BufferPool.floats(total) { buffer in
            source.withUnsafeBufferPointer { src in
                let parallel = total >= Parallel.elementwiseThreshold
                let (dims, steps) = merged(shape: shape, strides: strides)
                if steps.last! != 1, let axis = steps.dropLast().firstIndex(of: 1), dims[axis] >= 8, dims.last! >= 8 {
                    transposeTiles(src.baseAddress! + offset, shape: dims, strides: steps, contiguousAxis: axis,
                                   into: buffer.baseAddress!, parallel: parallel)
                } else {
                    copyMerged(src.baseAddress! + offset, dims: dims, steps: steps, into: buffer.baseAddress!, parallel: parallel)
                }
            }
        }
    }

    /// The view as 8x8 tiles between `contiguousAxis` (input stride 1) and the innermost axis
    /// (output stride 1), for every position of the other axes; partial tiles element by element.
    static func transposeTiles(_ source: UnsafePointer<Float>, shape: [Int], strides: [Int], contiguousAxis p: Int,
                               into target: UnsafeMutablePointer<Float>, parallel: Bool) {
        let last = shape.count - 1, inner = shape[last], innerStride = strides[last]
        let outStrides = Tensor.strides(shape), rowStride = outStrides[p], rows = shape[p]
        let others = shape.indices.filter { $0 != p && $0 != last }
        let positions = others.reduce(1) { $0 * shape[$1] }, rowBlocks = (rows + 7) / 8
        func run(_ items: Range<Int>) {
            for item in items {
                // Item = (position of the other axes, block of eight rows).
                var remainder = item / rowBlocks, from = 0, to = 0
                for d in others.reversed() {
                    let index = remainder % shape[d]
                    remainder /= shape[d]
                    from += index * strides[d]
                    to += index * outStrides[d]
                }
                let r0 = item % rowBlocks * 8, rowCount = min(8, rows - r0)
                var i0 = 0
                while i0 < inner {
                    let width = min(8, inner - i0)
                    let tileSource = source + from + i0 * innerStride + r0, tileTarget = target + to + r0 * rowStride + i0
                    if rowCount == 8 && width == 8 {
                        mk_transpose8x8(tileSource, innerStride, tileTarget, rowStride)
                    } else {
                        for r in 0..<rowCount {
                            for i in 0..<width { tileTarget[r * rowStride + i] = tileSource[i * innerStride + r] }
                        }
                    }
                    i0 += 8
                }
            }
        }
        let items = positions * rowBlocks
        if parallel { Parallel.forEachPart(of: items, split: true, run) } else { run(0..<items) }
    }

    /// Writes the view of `source` (already moved to the view's first element) into `target`.
    @inline(__always)
    static func copy<T>(_ source: UnsafePointer<T>, shape: [Int], strides: [Int], into target: UnsafeMutablePointer<T>,
                        parallel: Bool) {
        let (dims, steps) = merged(shape: shape, strides: strides)
        copyMerged(source, dims: dims, steps: steps, into: target, parallel: parallel)
    }

    /// `copy` on a view whose axes `merged` has already merged.
    @inline(__always)
    static func copyMerged<T>(_ source: UnsafePointer<T>, dims: [Int], steps: [Int], into target: UnsafeMutablePointer<T>,
                              parallel: Bool) {
        let inner = dims.last!, innerStride = steps.last!
        let outer = Array(dims.dropLast()), outerStrides = Array(steps.dropLast())
        let rows = outer.reduce(1, *)
        func copyRows(_ part: Range<Int>) {
            // The odometer of the outer axes, started at the part's first row.
            var index = [Int](repeating: 0, count: outer.count)
            var base = 0, remainder = part.lowerBound
            for d in stride(from: outer.count - 1, through: 0, by: -1) {
                index[d] = remainder % outer[d]
                remainder /= outer[d]
                base += index[d] * outerStrides[d]
            }
            for row in part {
                let out = target + row * inner, from = source + base
                switch innerStride {
                case 1: out.initialize(from: from, count: inner)
                case 0: out.initialize(repeating: from.pointee, count: inner)
                default: for k in 0..<inner { (out + k).initialize(to: from[k * innerStride]) }
                }
                var d = outer.count - 1
                while d >= 0 {
                    index[d] += 1
                    base += outerStrides[d]
                    if index[d] < outer[d] { break }
                    base -= outerStrides[d] * outer[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        if parallel { Parallel.forEachPart(of: rows, split: true, copyRows) } else { copyRows(0..<rows) }
    }

    /// The plain twin: one flat index per element, computed from its coordinates.
    public static func reference<T>(_ source: [T], offset: Int, shape: [Int], strides: [Int]) -> [T] {
        var out: [T] = []
        Tensor.forEachIndex(shape) { index in
            var flat = offset
            for d in index.indices { flat += index[d] * strides[d] }
            out.append(source[flat])
        }
        return out
    }
}

extension Tensor {
    /// A strided view of this tensor (see `StridedCopy`) as a new tensor of `shape`, any element
    /// type. The caller guarantees every addressed element lies inside the tensor.
    public func view(offset: Int, shape newShape: [Int], strides: [Int]) -> Tensor {
        switch storage {
        case .float32(let a): return Tensor(shape: newShape, floats: StridedCopy.copy(a, offset: offset, shape: newShape, strides: strides))
        case .int64(let a): return Tensor(shape: newShape, int64s: StridedCopy.copy(a, offset: offset, shape: newShape, strides: strides))
        case .int32(let a):
            return (try? Tensor(shape: newShape, storage: .int32(StridedCopy.copy(a, offset: offset, shape: newShape, strides: strides)))) ?? self
        case .bool(let a): return Tensor(shape: newShape, bools: StridedCopy.copy(a, offset: offset, shape: newShape, strides: strides))
        }
    }

    /// This tensor broadcast to `outShape` (which `Broadcast.shape` has checked), as a new tensor.
    public func broadcast(to outShape: [Int]) -> Tensor {
        let padded = [Int](repeating: 1, count: outShape.count - rank) + shape
        if padded == outShape { return (try? reshaped(outShape)) ?? self }
        let strides = Tensor.strides(padded).enumerated().map { padded[$0.offset] == 1 ? 0 : $0.element }
        return view(offset: 0, shape: outShape, strides: strides)
    }
}
