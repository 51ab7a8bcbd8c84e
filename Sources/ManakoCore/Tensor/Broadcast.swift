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
        return out
    }

    /// For each element of `outShape`, the flat index into a tensor of `shape` broadcast to it.
    public static func indexMap(from shape: [Int], to outShape: [Int]) -> [Int] {
        let total = outShape.reduce(1, *)
        let pad = outShape.count - shape.count
        let padded = [Int](repeating: 1, count: pad) + shape
        if padded == outShape { return Array(0..<total) }
        let srcStrides = Tensor.strides(padded)
        var map = [Int](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: outShape.count)
        for flat in 0..<total {
            var src = 0
            for d in 0..<outShape.count where padded[d] != 1 { src += index[d] * srcStrides[d] }
            map[flat] = src
            var d = outShape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < outShape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return map
    }

    /// Applies `f` elementwise over the broadcast of `a` and `b`.
    public static func apply<T>(_ a: [T], _ aShape: [Int], _ b: [T], _ bShape: [Int],
                                _ f: (T, T) -> T) throws -> ([T], [Int]) {
        try combine(a, aShape, b, bShape, f)
    }

    /// Like `apply`, with operands and result of any types (comparisons give Bool).
    public static func combine<A, B, R>(_ a: [A], _ aShape: [Int], _ b: [B], _ bShape: [Int],
                                        _ f: (A, B) -> R) throws -> ([R], [Int]) {
        let outShape = try shape(aShape, bShape)
        if aShape == bShape { return (zip(a, b).map(f), outShape) }
        // Fast paths: one operand is a single element.
        if b.count == 1 && outShape == aShape { let s = b[0]; return (a.map { f($0, s) }, outShape) }
        if a.count == 1 && outShape == bShape { let s = a[0]; return (b.map { f(s, $0) }, outShape) }
        let ia = indexMap(from: aShape, to: outShape)
        let ib = indexMap(from: bShape, to: outShape)
        return ((0..<ia.count).map { f(a[ia[$0]], b[ib[$0]]) }, outShape)
    }
}
