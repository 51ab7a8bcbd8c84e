/// Sums, maxima or minima of a float tensor over a set of axes (the Reduce operators).
/// Algorithm: drop size-1 axes and merge neighbours that are both reduced or both kept. The
/// pattern [kept?, reduced, kept] adds whole rows of the inner axis into an accumulator row
/// (vectorised); [kept, reduced] reduces each contiguous row in eight lanes; anything else first
/// copies the reduced axes to the end (`StridedCopy`). Every output's order of operations is fixed.
/// Layout: x row-major over `shape`; the result row-major over the kept axes. Twin: `reference`.
public enum Reduction {
    public enum Kind: Sendable {
        case sum, max, min

        @inline(__always)
        func combine(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
            switch self {
            case .sum: return a + b
            // A NaN lane stays NaN (the comparison is false for it).
            case .max: return a.replacing(with: b, where: b .> a .| (b .!= b))
            case .min: return a.replacing(with: b, where: b .< a .| (b .!= b))
            }
        }

        @inline(__always)
        func combine(_ a: Float, _ b: Float) -> Float {
            switch self {
            case .sum: return a + b
            case .max: return b > a || b.isNaN ? b : a
            case .min: return b < a || b.isNaN ? b : a
            }
        }

        /// The value an empty reduction gives (ONNX: 0 for sums, -inf for max, +inf for min).
        var identity: Float {
            switch self {
            case .sum: return 0
            case .max: return -.infinity
            case .min: return .infinity
            }
        }
    }

    /// Reduces `x` (row-major over `shape`) over `axes` (normalised, distinct); returns the
    /// results row-major over the kept axes.
    public static func reduce(_ x: [Float], shape: [Int], axes: Set<Int>, kind: Kind) -> [Float] {
        // Merge runs of reduced or kept axes; size-1 axes change nothing.
        var runs: [(size: Int, reduced: Bool)] = []
        for d in shape.indices where shape[d] != 1 {
            if let last = runs.last, last.reduced == axes.contains(d) {
                runs[runs.count - 1].size *= shape[d]
            } else {
                runs.append((shape[d], axes.contains(d)))
            }
        }
        let outCount = runs.filter { !$0.reduced }.reduce(1) { $0 * $1.size }
        let reducedCount = runs.filter(\.reduced).reduce(1) { $0 * $1.size }
        if outCount == 0 { return [] }
        if reducedCount == 0 { return [Float](repeating: kind.identity, count: outCount) }
        switch runs.map(\.reduced) {
        case [], [false]:
            return x
        case [true], [false, true]:
            return rows(x, count: outCount, length: reducedCount, kind: kind)
        case [true, false]:
            return columns(x, outer: 1, rows: reducedCount, inner: outCount, kind: kind)
        case [false, true, false]:
            return columns(x, outer: runs[0].size, rows: runs[1].size, inner: runs[2].size, kind: kind)
        default:
            // Kept axes first, then the reduced ones: a copy, then one row per output.
            let strides = Tensor.strides(shape)
            let order = shape.indices.filter { !axes.contains($0) } + shape.indices.filter { axes.contains($0) }
            let moved = StridedCopy.copy(x, offset: 0, shape: order.map { shape[$0] }, strides: order.map { strides[$0] })
            return rows(moved, count: outCount, length: reducedCount, kind: kind)
        }
    }

    /// Each of `count` contiguous rows of `length` reduced to one value.
    static func rows(_ x: [Float], count: Int, length: Int, kind: Kind) -> [Float] {
        [Float].uninitialized(capacity: count) { out, initialized in
            x.withUnsafeBufferPointer { source in
                Parallel.forEachPart(of: count, split: count * length >= Parallel.elementwiseThreshold) { part in
                    for row in part { (out.baseAddress! + row).initialize(to: reduceRow(source.baseAddress! + row * length, length, kind)) }
                }
            }
            initialized = count
        }
    }

    /// One row in eight lanes, then the lanes in a fixed order, then the tail.
    @inline(__always)
    static func reduceRow(_ v: UnsafePointer<Float>, _ length: Int, _ kind: Kind) -> Float {
        var i = 0, result = kind.identity
        if length >= 8 {
            var lanes = UnsafeRawPointer(v).loadUnaligned(as: SIMD8<Float>.self)
            i = 8
            while i + 8 <= length {
                lanes = kind.combine(lanes, UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self))
                i += 8
            }
            result = lanes[0]
            for lane in 1..<8 { result = kind.combine(result, lanes[lane]) }
        }
        while i < length {
            result = kind.combine(result, v[i])
            i += 1
        }
        return result
    }

    /// For each of `outer` blocks, `rows` rows of `inner` values combined column by column.
    static func columns(_ x: [Float], outer: Int, rows: Int, inner: Int, kind: Kind) -> [Float] {
        [Float].uninitialized(capacity: outer * inner) { out, initialized in
            x.withUnsafeBufferPointer { source in
                Parallel.forEachPart(of: outer, split: outer > 1 && outer * rows * inner >= Parallel.elementwiseThreshold) { part in
                    for o in part {
                        let target = out.baseAddress! + o * inner, block = source.baseAddress! + o * rows * inner
                        target.initialize(from: block, count: inner)
                        for r in 1..<max(1, rows) {
                            let row = block + r * inner
                            var j = 0
                            while j + 8 <= inner {
                                let sum = kind.combine(UnsafeRawPointer(target + j).loadUnaligned(as: SIMD8<Float>.self),
                                                       UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self))
                                UnsafeMutableRawPointer(target + j).storeBytes(of: sum, as: SIMD8<Float>.self)
                                j += 8
                            }
                            while j < inner {
                                target[j] = kind.combine(target[j], row[j])
                                j += 1
                            }
                        }
                    }
                }
            }
            initialized = outer * inner
        }
    }

    /// The plain twin: every element added to the output cell its kept coordinates name.
    public static func reference(_ x: [Float], shape: [Int], axes: Set<Int>, kind: Kind) -> [Float] {
        let outShape = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        let outStrides = Tensor.strides(outShape)
        var result = [Float](repeating: kind.identity, count: outShape.reduce(1, *))
        var position = 0
        Tensor.forEachIndex(shape) { index in
            var target = 0
            for d in shape.indices where !axes.contains(d) { target += index[d] * outStrides[d] }
            result[target] = kind.combine(result[target], x[position])
            position += 1
        }
        return result
    }
}
