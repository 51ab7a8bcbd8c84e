import ManakoCore

/// Memory layouts of caller-provided pixels (8 bits per channel).
public enum PixelFormat: Int32, Sendable, CaseIterable {
    case rgb = 0, bgr = 1, rgba = 2, bgra = 3, gray = 4

    public var channels: Int {
        switch self {
        case .rgb, .bgr: return 3
        case .rgba, .bgra: return 4
        case .gray: return 1
        }
    }
}

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw ManakoError(.invalidImage, "RGB image of \(width)x\(height) needs \(max(0, width * height * 3)) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Converts caller pixels to RGB. Alpha is dropped (as PIL's `convert("RGB")` does);
    /// gray is replicated. `rowStride` is in bytes and may exceed `width * channels`.
    public init(pixels: UnsafeRawBufferPointer, width: Int, height: Int, rowStride: Int, format: PixelFormat,
                maxPixels: Int = ImageLimits.defaultMaxPixels) throws {
        guard width > 0, height > 0 else {
            throw ManakoError(.invalidImage, "image size \(width)x\(height) must be positive")
        }
        let (pixelCount, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixelCount <= maxPixels else {
            throw ManakoError(.limitExceeded, "image of \(width)x\(height) exceeds the limit of \(maxPixels) pixels")
        }
        let rowBytes = width * format.channels
        guard rowStride >= rowBytes else {
            throw ManakoError(.invalidArgument, "row stride \(rowStride) is smaller than a row of \(rowBytes) bytes")
        }
        let (span, spanOverflow) = rowStride.multipliedReportingOverflow(by: height - 1)
        guard !spanOverflow, pixels.count >= span + rowBytes else {
            throw ManakoError(.bufferTooSmall, "pixel buffer of \(pixels.count) bytes is too small for \(width)x\(height) \(format) with row stride \(rowStride)")
        }
        var out = [UInt8](repeating: 0, count: pixelCount * 3)
        let (r, g, b): (Int, Int, Int) = (format == .bgr || format == .bgra) ? (2, 1, 0) : (0, 1, 2)
        let step = format.channels
        for y in 0..<height {
            let row = y * rowStride
            for x in 0..<width {
                let src = row + x * step, dst = (y * width + x) * 3
                if format == .gray {
                    let v = pixels[src]
                    out[dst] = v; out[dst + 1] = v; out[dst + 2] = v
                } else {
                    out[dst] = pixels[src + r]; out[dst + 1] = pixels[src + g]; out[dst + 2] = pixels[src + b]
                }
            }
        }
        self.width = width
        self.height = height
        self.pixels = out
    }

    /// The sub-image [left, left + width) x [top, top + height); the box must lie inside.
    public func cropped(left: Int, top: Int, width w: Int, height h: Int) throws -> RGBImage {
        guard left >= 0, top >= 0, w > 0, h > 0, left + w <= width, top + h <= height else {
            throw ManakoError(.invalidArgument, "crop \(w)x\(h) at (\(left), \(top)) leaves the \(width)x\(height) image")
        }
        var out = [UInt8]()
        out.reserveCapacity(w * h * 3)
        for y in top..<(top + h) {
            let start = (y * width + left) * 3
            out.append(contentsOf: pixels[start..<(start + w * 3)])
        }
        return try RGBImage(width: w, height: h, pixels: out)
    }
}

/// Limits applied to images before decoding allocates.
public enum ImageLimits {
    /// 100 megapixels (about 300 MB decoded); configurable per model.
    public static let defaultMaxPixels = 100_000_000
}
