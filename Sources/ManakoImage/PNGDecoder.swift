import CManakoCodecs
import ManakoCore

/// PNG decoding through libpng: every colour type, 1 to 16 bits, interlaced or not, to 8-bit
/// RGB. 16-bit samples keep their high byte (Pillow does this for RGB; for 16-bit gray Pillow
/// clips to 255 instead, which Manako does not copy). Alpha is dropped, as Pillow's
/// convert("RGB") does. No gamma correction is applied, as in Pillow.
public enum PNGDecoder {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func isPNG(_ bytes: [UInt8]) -> Bool { bytes.starts(with: signature) }

    /// Decodes to 8-bit RGB. The pixel count is checked against `maxPixels` from the header,
    /// before the image is allocated.
    public static func decode(_ bytes: [UInt8], maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> RGBImage {
        guard isPNG(bytes) else { throw ManakoError(.invalidImage, "not a PNG file (bad signature)") }
        return try NativeCodec.decode(bytes, maxPixels: maxPixels, format: "PNG", decoder: mk_png_decode) { image, pixels in
            let (width, height) = (Int(image.width), Int(image.height))
            return try RGBImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: pixels, count: width * height * 3)))
        }
    }
}
