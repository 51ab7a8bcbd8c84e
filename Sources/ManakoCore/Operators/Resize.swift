/// Resizes the trailing axes (ONNX Resize, and Upsample through it): nearest, linear or cubic,
/// one axis at a time, each output coordinate mapped back by the coordinate transformation.
/// Inputs: X, roi (unused), scales, sizes (opset 11+); or X, scales (opset 10 and Upsample).
public struct Resize: Operator {
    public enum Mode: String, Sendable { case nearest, linear, cubic }
    public enum Coordinates: String, Sendable {
        case halfPixel = "half_pixel", halfPixelSymmetric = "half_pixel_symmetric", pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners", asymmetric
    }
    public enum Nearest: String, Sendable { case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil }

    public var mode: Mode
    public var coordinates: Coordinates
    public var nearest: Nearest
    public var cubicCoefficient: Float
    public var excludeOutside: Bool
    /// Axes the scales or sizes refer to (opset 18); nil means all.
    public var axes: [Int]?
    /// Index of the scales input (1 for opset 10 and Upsample, 2 from opset 11).
    public var scalesInput: Int
    /// Scales fixed at import (Upsample opset 7).
    public var staticScales: [Float]?
    /// With sizes: "stretch" each axis, or keep the aspect ratio so the result is "notLarger" or
    /// "notSmaller" than the sizes (opset 18's keep_aspect_ratio_policy).
    public var aspectPolicy: AspectPolicy

    public enum AspectPolicy: String, Sendable { case stretch, notLarger = "not_larger", notSmaller = "not_smaller" }

    public init(mode: Mode = .nearest, coordinates: Coordinates = .halfPixel, nearest: Nearest = .roundPreferFloor,
                cubicCoefficient: Float = -0.75, excludeOutside: Bool = false, axes: [Int]? = nil, scalesInput: Int = 2,
                staticScales: [Float]? = nil, aspectPolicy: AspectPolicy = .stretch) {
        self.mode = mode
        self.coordinates = coordinates
        self.nearest = nearest
        self.cubicCoefficient = cubicCoefficient
        self.excludeOutside = excludeOutside
        self.axes = axes
        self.scalesInput = scalesInput
        self.staticScales = staticScales
        self.aspectPolicy = aspectPolicy
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let axisList = try (axes ?? Array(0..<x.rank)).map { try normalizedAxis($0, rank: x.rank) }
        var scales = [Float](repeating: 1, count: x.rank)
        var outShape = x.shape
        let given = try inputs.optional(scalesInput).map { try $0.floats() } ?? staticScales ?? []
        if let sizes = try (scalesInput == 2 ? inputs.optional(3) : nil)?.int64s(), !sizes.isEmpty {
            guard sizes.count == axisList.count, sizes.allSatisfy({ $0 >= 0 }) else {
                throw ManakoError(.shapeMismatch, "sizes \(sizes) must be non-negative, one per axis \(axisList)")
            }
            let ratios = axisList.enumerated().map { Float(sizes[$0.offset]) / Float(max(x.shape[$0.element], 1)) }
            for (k, a) in axisList.enumerated() {
                switch aspectPolicy {
                case .stretch:
                    outShape[a] = Int(sizes[k])
                    scales[a] = ratios[k]
                case .notLarger, .notSmaller:
                    let common = aspectPolicy == .notLarger ? ratios.min()! : ratios.max()!
                    outShape[a] = try Resize.length((common * Float(x.shape[a])).rounded(.toNearestOrAwayFromZero))
                    scales[a] = common
                }
            }
        } else if !given.isEmpty {
            guard given.count == axisList.count, given.allSatisfy({ $0 > 0 }) else {
                throw ManakoError(.shapeMismatch, "scales \(given) must be positive, one per axis \(axisList)")
            }
            for (k, a) in axisList.enumerated() {
                scales[a] = given[k]
                outShape[a] = try Resize.length((Float(x.shape[a]) * given[k]).rounded(.down))
            }
        } else {
            throw ManakoError(.invalidModel, "Resize needs scales or sizes")
        }
        try ElementLimit.check(outShape, "Resize output")
        for a in 0..<x.rank where x.shape[a] == 0 && outShape[a] > 0 {
            throw ManakoError(.shapeMismatch, "Resize cannot grow axis \(a) of \(x.shape) from zero length to \(outShape[a])")
        }
        var data = try x.floats()
        var shape = x.shape
        // Shrinking axes first: every intermediate then holds no more than the input or the
        // output, so growing one axis while another shrinks to nothing cannot allocate past both.
        let order = (0..<x.rank).filter { outShape[$0] < shape[$0] } + (0..<x.rank).filter { outShape[$0] >= shape[$0] }
        var intermediate = false
        for a in order where outShape[a] != shape[a] || scales[a] != 1 {
            let next = resizeAxis(data, shape: shape, axis: a, outSize: outShape[a], scale: scales[a])
            // One axis's result, read by the next axis only, goes back to the run's pool.
            if intermediate { BufferPool.recycle(data) }
            data = next
            intermediate = true
            shape[a] = outShape[a]
        }
        return [Tensor(shape: shape, floats: data)]
    }

    /// An output length computed in floating point, refused before conversion when it is not a
    /// finite size (a scale of 1e30 must be an error, not a trap).
    static func length(_ value: Float) throws -> Int {
        guard value.isFinite, value >= 0, value <= Float(ElementLimit.current) else {
            throw ManakoError(.limitExceeded, "Resize output length \(value) is not a size within the limit of \(ElementLimit.current) (maxTensorElements)")
        }
        return Int(value)
    }

    /// Input position of output index `i` along an axis of `inSize` resized to `outSize`.
    /// The spec measures the resized length as in * scale, unrounded, when scales are given.
    func sourceCoordinate(_ i: Int, inSize: Int, outSize: Int, scale: Float) -> Float {
        let x = Float(i)
        let resizedLength = Float(inSize) * scale
        switch coordinates {
        case .halfPixel: return (x + 0.5) / scale - 0.5
        case .pytorchHalfPixel: return resizedLength > 1 ? (x + 0.5) / scale - 0.5 : 0
        case .alignCorners: return resizedLength == 1 ? 0 : x * Float(inSize - 1) / (resizedLength - 1)
        case .asymmetric: return x / scale
        case .halfPixelSymmetric:
            let adjustment = Float(outSize) / (scale * Float(inSize))
            let center = Float(inSize) / 2
            return center * (1 - adjustment) + (x + 0.5) / scale - 0.5
        }
    }

    /// Taps (input index, weight) for one output index.
    func taps(_ i: Int, inSize: Int, outSize: Int, scale: Float) -> [(Int, Float)] {
        let c = sourceCoordinate(i, inSize: inSize, outSize: outSize, scale: scale)
        func clamp(_ j: Int) -> Int { min(max(j, 0), inSize - 1) }
        switch mode {
        case .nearest:
            let j: Int
            switch nearest {
            case .roundPreferFloor: j = c == c.rounded(.down) + 0.5 ? Int(c.rounded(.down)) : Int(c.rounded())
            case .roundPreferCeil: j = c == c.rounded(.down) + 0.5 ? Int(c.rounded(.up)) : Int(c.rounded())
            case .floor: j = Int(c.rounded(.down))
            case .ceil: j = Int(c.rounded(.up))
            }
            return [(clamp(j), 1)]
        case .linear:
            let clamped = min(max(c, 0), Float(inSize - 1))
            let j = Int(clamped.rounded(.down)), t = clamped - Float(j)
            return [(clamp(j), 1 - t), (clamp(j + 1), t)]
        case .cubic:
            let j = Int(c.rounded(.down)), t = c - Float(j), a = cubicCoefficient
            func weight(_ d: Float) -> Float {
                let d = abs(d)
                if d <= 1 { return ((a + 2) * d - (a + 3)) * d * d + 1 }
                if d < 2 { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
                return 0
            }
            var result = (-1...2).map { k in (j + k, weight(t - Float(k))) }
            if excludeOutside {
                result = result.map { (0..<inSize).contains($0.0) ? $0 : ($0.0, 0) }
                let total = result.reduce(0) { $0 + $1.1 }
                if total != 0 { result = result.map { ($0.0, $0.1 / total) } }
            }
            return result.map { (clamp($0.0), $0.1) }
        }
    }

    func resizeAxis(_ data: [Float], shape: [Int], axis: Int, outSize: Int, scale: Float) -> [Float] {
        let inSize = shape[axis]
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        // From the run's pool (pages already mapped after the first run), zeroed for the sums.
        var out = BufferPool.floats(outer * outSize * inner) { $0.initialize(repeating: 0) }
        // Nothing to compute for an empty result: without this, a huge outer size times an
        // empty inner one loops billions of times over nothing.
        guard inSize > 0, !out.isEmpty else { return out }
        // The taps flattened once (output i's are ends[i] ..< ends[i + 1]), then pointer loops:
        // each output row adds its taps' input rows, weighted, in the table's order.
        var ends = [0], indices: [Int] = [], weights: [Float] = []
        for i in 0..<outSize {
            for (j, w) in taps(i, inSize: inSize, outSize: outSize, scale: scale) where w != 0 {
                indices.append(j)
                weights.append(w)
            }
            ends.append(indices.count)
        }
        data.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                ends.withUnsafeBufferPointer { ends in
                    indices.withUnsafeBufferPointer { indices in
                        weights.withUnsafeBufferPointer { weights in
                            for o in 0..<outer {
                                let from = source.baseAddress! + o * inSize * inner, to = target.baseAddress! + o * outSize * inner
                                for i in 0..<outSize {
                                    let row = to + i * inner
                                    var t = ends[i]
                                    while t < ends[i + 1] {
                                        let w = weights[t], input = from + indices[t] * inner
                                        if inner == 1 { row.pointee += w * input.pointee } else { for k in 0..<inner { row[k] += w * input[k] } }
                                        t += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
