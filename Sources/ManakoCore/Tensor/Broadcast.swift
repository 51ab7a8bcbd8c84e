/// Numpy-style multidirectional broadcasting, shared by the elementwise operators.
public enum Broadcast {
    /// The broadcast shape of `a` and `b`, or an error naming both.
    public static func shape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else {
                throw ManakoError(.shapeMismatch, "shapes \(a) and \(b) cannot be broadcast")
            }
        }
        try ElementLimit.check(out, "broadcast result")
        return out
    }

    /// For each element of `outShape`, the flat index into a tensor of `shape` broadcast to it.
    public static func indexMap(from shape: [Int], to outShape: [Int]) -> [Int] {
        let total = outShape.reduce(1, *)
        let pad = outShape.count - shape.count
        let padded = [Int](repeating: 1, count: pad) + shape
        if padded == outShape { return Array(0..<total) }
        let srcStrides = Tensor.strides(padded)
        var map: [Int] = []
        map.reserveCapacity(total)
        Tensor.forEachIndex(outShape) { index in
            var src = 0
            for d in 0..<outShape.count where padded[d] != 1 { src += index[d] * srcStrides[d] }
            map.append(src)
        }
        return map
    }

    /// Applies `f` elementwise over the broadcast of `a` and `b`.
    @inline(__always)
    public static func apply<T>(_ a: [T], _ aShape: [Int], _ b: [T], _ bShape: [Int],
                                _ f: (T, T) -> T) throws -> ([T], [Int]) {
        try combine(a, aShape, b, bShape, f)
    }

    /// Like `apply`, with operands and result of any types (comparisons give Bool).
    /// Dimensions that broadcast alike are merged, then the innermost runs as a tight pointer loop
    /// with stride 0 or 1 per operand (vectorised once `f` is inlined): no per-element index tables.
    @inline(__always)
    public static func combine<A, B, R>(_ a: [A], _ aShape: [Int], _ b: [B], _ bShape: [Int],
                                        _ f: (A, B) -> R) throws -> ([R], [Int]) {
        let outShape = try shape(aShape, bShape)
        let total = outShape.reduce(1, *)
        guard total > 0 else { return ([], outShape) }
        let rank = outShape.count
        let pa = [Int](repeating: 1, count: rank - aShape.count) + aShape
        let pb = [Int](repeating: 1, count: rank - bShape.count) + bShape
        // Merge runs of dimensions where each operand is either present or broadcast throughout.
        var dims: [(size: Int, aPresent: Bool, bPresent: Bool)] = []
        for d in 0..<rank where outShape[d] != 1 {
            let entry = (outShape[d], pa[d] != 1, pb[d] != 1)
            if let last = dims.last, last.aPresent == entry.1, last.bPresent == entry.2 {
                dims[dims.count - 1].size *= entry.0
            } else {
                dims.append(entry)
            }
        }
        if dims.isEmpty { dims = [(1, true, true)] }
        var aStrides = [Int](repeating: 0, count: dims.count), bStrides = aStrides
        var sa = 1, sb = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            if dims[i].aPresent { aStrides[i] = sa; sa *= dims[i].size }
            if dims[i].bPresent { bStrides[i] = sb; sb *= dims[i].size }
        }
        let inner = dims.last!.size, ia = aStrides.last!, ib = bStrides.last!
        let outerDims = dims.dropLast().map(\.size)
        func fill(_ buffer: UnsafeMutableBufferPointer<R>) {
            a.withUnsafeBufferPointer { ab in
                b.withUnsafeBufferPointer { bb in
                    let o = buffer.baseAddress!, x = ab.baseAddress!, y = bb.baseAddress!
                    var index = [Int](repeating: 0, count: outerDims.count)
                    var aBase = 0, bBase = 0, written = 0
                    for _ in 0..<(total / inner) {
                        let row = o + written, xa = x + aBase, yb = y + bBase
                        switch (ia, ib) {
                        case (1, 1): for k in 0..<inner { (row + k).initialize(to: f(xa[k], yb[k])) }
                        case (1, _): let s = yb[0]; for k in 0..<inner { (row + k).initialize(to: f(xa[k], s)) }
                        case (_, 1): let s = xa[0]; for k in 0..<inner { (row + k).initialize(to: f(s, yb[k])) }
                        default: let s = f(xa[0], yb[0]); for k in 0..<inner { (row + k).initialize(to: s) }
                        }
                        written += inner
                        var d = outerDims.count - 1
                        while d >= 0 {
                            index[d] += 1
                            aBase += aStrides[d]
                            bBase += bStrides[d]
                            if index[d] < outerDims[d] { break }
                            aBase -= aStrides[d] * outerDims[d]
                            bBase -= bStrides[d] * outerDims[d]
                            index[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
        // Float results come from the run's buffer pool, so a graph's buffers are reused run
        // after run instead of faulting in new pages.
        if R.self == Float.self {
            let floats = BufferPool.floats(total) { buffer in
                buffer.withMemoryRebound(to: R.self) { fill($0) }
            }
            return (unsafeBitCast(floats, to: [R].self), outShape)
        }
        let out = [R].uninitialized(capacity: total) { buffer, initialized in
            fill(buffer)
            initialized = total
        }
        return (out, outShape)
    }
}
