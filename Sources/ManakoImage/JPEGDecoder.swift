import CManakoCodecs
import ManakoCore

/// JPEG decoding through libjpeg-turbo: baseline and progressive, gray, RGB and CMYK
/// (converted as Pillow's `convert("RGB")` does). The EXIF orientation is applied.
public enum JPEGDecoder {
    public static func isJPEG(_ bytes: [UInt8]) -> Bool { bytes.starts(with: [0xFF, 0xD8, 0xFF]) }

    public static func decode(_ bytes: [UInt8], maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> RGBImage {
        guard isJPEG(bytes) else { throw ManakoError(.invalidImage, "not a JPEG file (bad signature)") }
        let decoded = try NativeCodec.decode(bytes, maxPixels: maxPixels, format: "JPEG", decoder: mk_jpeg_decode) { image, pixels in
            let width = Int(image.width), height = Int(image.height), count = width * height
            let buffer = UnsafeRawBufferPointer(start: pixels, count: count * Int(image.components))
            switch image.components {
            case 1:
                return try RGBImage(pixels: buffer, width: width, height: height, rowStride: width, format: .gray, maxPixels: maxPixels)
            case 3:
                return try RGBImage(pixels: buffer, width: width, height: height, rowStride: width * 3, format: .rgb, maxPixels: maxPixels)
            case 4:
                return try RGBImage(width: width, height: height, pixels: cmykToRGB(buffer, count: count, inverted: image.adobe_inverted != 0))
            default:
                throw ManakoError(.invalidImage, "JPEG with \(image.components) components is not supported")
            }
        }
        return try decoded.oriented(EXIF.orientation(inJPEG: bytes))
    }

    /// Pillow's CMYK to RGB: each channel is (255 - K) - C * (255 - K) / 255, rounded as Pillow
    /// does. Adobe stores CMYK inverted; Pillow reads it with the inversion undone.
    static func cmykToRGB(_ cmyk: UnsafeRawBufferPointer, count: Int, inverted: Bool) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * 3)
        for i in 0..<count {
            func channel(_ k: Int) -> Int { let v = Int(cmyk[i * 4 + k]); return inverted ? 255 - v : v }
            let notBlack = 255 - channel(3)
            for c in 0..<3 {
                let product = channel(c) * notBlack + 128
                let scaled = ((product >> 8) + product) >> 8
                out[i * 3 + c] = UInt8(clamping: notBlack - scaled)
            }
        }
        return out
    }
}

/// The EXIF orientation tag (1-8) of a JPEG, read from its APP1 "Exif" segment.
public enum EXIF {
    public static func orientation(inJPEG bytes: [UInt8]) -> Int {
        var p = 2
        while p + 4 <= bytes.count, bytes[p] == 0xFF {
            let marker = bytes[p + 1]
            if marker == 0xDA || marker == 0xD9 { break }  // image data starts: no more metadata
            let length = Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
            guard length >= 2, p + 2 + length <= bytes.count else { break }
            if marker == 0xE1, length >= 8, Array(bytes[(p + 4)..<(p + 10)]) == Array("Exif\0\0".utf8) {
                return orientation(inTIFF: Array(bytes[(p + 10)..<(p + 2 + length)]))
            }
            p += 2 + length
        }
        return 1
    }

    /// Reads tag 0x0112 from IFD0 of a TIFF structure; 1 when absent or malformed.
    static func orientation(inTIFF tiff: [UInt8]) -> Int {
        guard tiff.count >= 8 else { return 1 }
        let little = tiff[0] == 0x49 && tiff[1] == 0x49
        guard little || (tiff[0] == 0x4D && tiff[1] == 0x4D) else { return 1 }
        func read(_ offset: Int, _ size: Int) -> Int? {
            guard offset >= 0, offset + size <= tiff.count else { return nil }
            var value = 0
            for i in 0..<size { value |= Int(tiff[offset + (little ? i : size - 1 - i)]) << (8 * i) }
            return value
        }
        guard let ifd = read(4, 4), let entries = read(ifd, 2) else { return 1 }
        for e in 0..<min(entries, 512) {
            let entry = ifd + 2 + e * 12
            guard let tag = read(entry, 2) else { return 1 }
            if tag == 0x0112, let value = read(entry + 8, 2), (1...8).contains(value) { return value }
        }
        return 1
    }
}

extension RGBImage {
    /// The image as displayed under EXIF orientation `o` (Pillow's ImageOps.exif_transpose).
    public func oriented(_ o: Int) throws -> RGBImage {
        guard o >= 2 && o <= 8 else { return self }
        let swap = o >= 5
        let (w, h) = swap ? (height, width) : (width, height)
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<h {
            for x in 0..<w {
                // Source pixel for destination (x, y).
                let (sx, sy): (Int, Int)
                switch o {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)
                }
                let s = (sy * width + sx) * 3, d = (y * w + x) * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        return try RGBImage(width: w, height: h, pixels: out)
    }
}
