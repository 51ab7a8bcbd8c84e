import ManakoCore

/// Picks a decoder by the file's signature.
public enum ImageDecoder {
    public static func decode(_ bytes: [UInt8], maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> RGBImage {
        if bytes.isEmpty { throw ManakoError(.invalidImage, "empty image data") }
        if PNGDecoder.isPNG(bytes) { return try PNGDecoder.decode(bytes, maxPixels: maxPixels) }
        if JPEGDecoder.isJPEG(bytes) { return try JPEGDecoder.decode(bytes, maxPixels: maxPixels) }
        throw ManakoError(.invalidImage, "unrecognised image format (expected PNG or JPEG)")
    }

    /// Reads and decodes an image file; errors name the file.
    public static func decode(file path: String, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> RGBImage {
        do {
            return try decode(try FileIO.read(path, limit: 1 << 30), maxPixels: maxPixels)
        } catch let e as ManakoError {
            throw e.inContext("image '\(path)'")
        }
    }
}
