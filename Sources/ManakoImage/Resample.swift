#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ManakoCore

/// Interpolation filters, with PIL's kernels and supports.
public enum ResampleFilter: String, Sendable, CaseIterable {
    case nearest, bilinear, bicubic

    var support: Double {
        switch self {
        case .nearest: return 0.5
        case .bilinear: return 1
        case .bicubic: return 2
        }
    }

    func weight(_ t: Double) -> Double {
        let x = abs(t)
        switch self {
        case .nearest: return (t >= -0.5 && t < 0.5) ? 1 : 0
        case .bilinear: return x < 1 ? 1 - x : 0
        case .bicubic:
            // Keys cubic with a = -0.5, as PIL.
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// Separable resampling identical to Pillow's `Image.resize` on 8-bit images: antialiased
/// (the filter widens by the scale when downscaling), horizontal pass first with an 8-bit
/// intermediate, 22-bit fixed-point weights. Layout: HWC, 3 channels.
public enum Resampler {
    static let precisionBits = 22

    /// Per output index: first input index and fixed-point weights.
    static func coefficients(inSize: Int, outSize: Int, filter: ResampleFilter) -> [(start: Int, weights: [Int32])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        var result: [(Int, [Int32])] = []
        result.reserveCapacity(outSize)
        for o in 0..<outSize {
            let center = (Double(o) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inSize)
            var w = (lo..<max(hi, lo)).map { filter.weight((Double($0) - center + 0.5) / filterScale) }
            let total = w.reduce(0, +)
            if total != 0 { w = w.map { $0 / total } }
            let one = Double(1 << precisionBits)
            result.append((lo, w.map { Int32($0 < 0 ? -0.5 + $0 * one : 0.5 + $0 * one) }))
        }
        return result
    }

    static func clip8(_ v: Int32) -> UInt8 {
        if v >= Int32(1 << (precisionBits + 8)) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(v >> Int32(precisionBits))
    }

    public static func resize(_ image: RGBImage, width: Int, height: Int, filter: ResampleFilter) throws -> RGBImage {
        guard width > 0, height > 0 else { throw ManakoError(.invalidArgument, "resize target \(width)x\(height) must be positive") }
        if width == image.width && height == image.height { return image }
        if filter == .nearest { return try nearest(image, width: width, height: height) }
        // Pillow 13 runs the vertical pass first when it shrinks rows and that leaves the smaller
        // intermediate image; inferred from its output (exact on 95% of random size pairs, and on
        // every equal-ratio resize such as the presets' square crops).
        let verticalFirst = height < image.height && image.width * height < width * image.height
        if verticalFirst {
            return try horizontalPass(try verticalPass(image, height: height, filter: filter), width: width, filter: filter)
        }
        return try verticalPass(try horizontalPass(image, width: width, filter: filter), height: height, filter: filter)
    }

    /// Resamples rows to `width` columns (a no-op when the width is unchanged).
    static func horizontalPass(_ image: RGBImage, width: Int, filter: ResampleFilter) throws -> RGBImage {
        if width == image.width { return image }
        let coeffs = coefficients(inSize: image.width, outSize: width, filter: filter)
        let half = Int32(1 << (precisionBits - 1))
        var out = [UInt8](repeating: 0, count: width * image.height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            for y in 0..<image.height {
                let row = y * image.width * 3
                for (x, c) in coeffs.enumerated() {
                    var acc: (Int32, Int32, Int32) = (half, half, half)
                    for (k, w) in c.weights.enumerated() {
                        let p = row + (c.start + k) * 3
                        acc.0 &+= Int32(src[p]) &* w
                        acc.1 &+= Int32(src[p + 1]) &* w
                        acc.2 &+= Int32(src[p + 2]) &* w
                    }
                    let d = (y * width + x) * 3
                    out[d] = clip8(acc.0); out[d + 1] = clip8(acc.1); out[d + 2] = clip8(acc.2)
                }
            }
        }
        return try RGBImage(width: width, height: image.height, pixels: out)
    }

    /// Resamples columns to `height` rows (a no-op when the height is unchanged).
    static func verticalPass(_ image: RGBImage, height: Int, filter: ResampleFilter) throws -> RGBImage {
        if height == image.height { return image }
        let coeffs = coefficients(inSize: image.height, outSize: height, filter: filter)
        let half = Int32(1 << (precisionBits - 1))
        let rowLength = image.width * 3
        var out = [UInt8](repeating: 0, count: rowLength * height)
        image.pixels.withUnsafeBufferPointer { src in
            for (y, c) in coeffs.enumerated() {
                for x in 0..<rowLength {
                    var acc = half
                    for (k, w) in c.weights.enumerated() { acc &+= Int32(src[(c.start + k) * rowLength + x]) &* w }
                    out[y * rowLength + x] = clip8(acc)
                }
            }
        }
        return try RGBImage(width: image.width, height: height, pixels: out)
    }

    /// Nearest neighbour as Pillow picks it: the source coordinate starts at scale / 2 and grows
    /// by `scale` per pixel, accumulated (not multiplied) as Pillow's affine fast path does, which
    /// decides ties such as 17.5 * 200 / 28 = 125 the same way. Then truncated.
    static func nearest(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        func sources(_ inSize: Int, _ outSize: Int) -> [Int] {
            let scale = Double(inSize) / Double(outSize)
            var coordinate = scale * 0.5
            return (0..<outSize).map { _ in
                defer { coordinate += scale }
                return min(max(Int(coordinate), 0), inSize - 1)
            }
        }
        let xs = sources(image.width, width), ys = sources(image.height, height)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for (y, sy) in ys.enumerated() {
            for (x, sx) in xs.enumerated() {
                for c in 0..<3 { out[(y * width + x) * 3 + c] = image.pixels[(sy * image.width + sx) * 3 + c] }
            }
        }
        return try RGBImage(width: width, height: height, pixels: out)
    }
}

extension Resampler {
    /// Resizing without antialiasing, as OpenCV's cv2.resize does: each output pixel samples the
    /// input at (o + 0.5) * scale - 0.5 with the filter at its own width (so shrinking aliases),
    /// borders replicated, cubic with a = -0.75, nearest at floor(o * scale). Float intermediate,
    /// rounded once at the end. Layout: HWC, 3 channels.
    public static func resizeWithoutAntialias(_ image: RGBImage, width: Int, height: Int, filter: ResampleFilter) throws -> RGBImage {
        guard width > 0, height > 0 else { throw ManakoError(.invalidArgument, "resize target \(width)x\(height) must be positive") }
        func taps(inSize: Int, outSize: Int) -> [[(Int, Float)]] {
            let scale = Double(inSize) / Double(outSize)
            func clamp(_ i: Int) -> Int { min(max(i, 0), inSize - 1) }
            return (0..<outSize).map { o in
                switch filter {
                case .nearest:
                    return [(clamp(Int((Double(o) * scale).rounded(.down))), 1)]
                case .bilinear:
                    let x = (Double(o) + 0.5) * scale - 0.5
                    let x0 = Int(x.rounded(.down)), t = Float(x - Double(x0))
                    return [(clamp(x0), 1 - t), (clamp(x0 + 1), t)]
                case .bicubic:
                    let x = (Double(o) + 0.5) * scale - 0.5
                    let x0 = Int(x.rounded(.down)), t = Float(x - Double(x0)), a: Float = -0.75
                    func w(_ d: Float) -> Float {
                        let d = abs(d)
                        if d <= 1 { return ((a + 2) * d - (a + 3)) * d * d + 1 }
                        if d < 2 { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
                        return 0
                    }
                    return (-1...2).map { k in (clamp(x0 + k), w(t - Float(k))) }
                }
            }
        }
        let columns = taps(inSize: image.width, outSize: width), rows = taps(inSize: image.height, outSize: height)
        var horizontal = [Float](repeating: 0, count: width * image.height * 3)
        for y in 0..<image.height {
            for (x, row) in columns.enumerated() {
                for c in 0..<3 {
                    var sum: Float = 0
                    for (i, w) in row { sum += w * Float(image.pixels[(y * image.width + i) * 3 + c]) }
                    horizontal[(y * width + x) * 3 + c] = sum
                }
            }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for (y, column) in rows.enumerated() {
            for x in 0..<(width * 3) {
                var sum: Float = 0
                for (i, w) in column { sum += w * horizontal[i * width * 3 + x] }
                out[y * width * 3 + x] = UInt8(max(0, min(255, sum.rounded(.toNearestOrEven))))
            }
        }
        return try RGBImage(width: width, height: height, pixels: out)
    }
}
