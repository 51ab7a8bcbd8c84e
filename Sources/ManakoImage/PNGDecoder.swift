import CPNG
import ManakoCore

/// PNG decoding through libpng's simplified API, which handles every colour type,
/// bit depth and interlacing and reports errors without longjmp.
public enum PNGDecoder {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func isPNG(_ bytes: [UInt8]) -> Bool { bytes.starts(with: signature) }

    /// Decodes to 8-bit RGB (alpha dropped). The pixel count is checked against `maxPixels`
    /// from the header, before the image is allocated.
    public static func decode(_ bytes: [UInt8], maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> RGBImage {
        guard isPNG(bytes) else { throw ManakoError(.invalidImage, "not a PNG file (bad signature)") }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw ManakoError(.invalidImage, "invalid PNG: \(message(image))") }
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width * height <= maxPixels else {
            throw ManakoError(.limitExceeded, "PNG of \(width)x\(height) exceeds the limit of \(maxPixels) pixels")
        }
        // RGBA, then drop alpha ourselves: without a background libpng would composite on black.
        image.format = 3  // PNG_FORMAT_RGBA
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let finished = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw ManakoError(.invalidImage, "invalid PNG: \(message(image))") }
        return try rgba.withUnsafeBytes {
            try RGBImage(pixels: $0, width: width, height: height, rowStride: width * 4, format: .rgba, maxPixels: maxPixels)
        }
    }

    private static func message(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "unknown libpng error" : text
        }
    }
}
