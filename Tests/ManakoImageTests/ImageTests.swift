import Foundation
import ManakoCore
import ManakoImage
import Testing

let imageFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

func fixtureImage(_ name: String) throws -> RGBImage {
    let t = try NPY.read(try FileIO.read(imageFixtures + "/" + name), name: name)
    return try RGBImage(width: t.shape[1], height: t.shape[0], pixels: try t.int64s().map { UInt8($0) })
}

/// Pillow's Image.resize on the same pixels, within one level: Pillow 13 picks the order of the
/// two passes by a rule Manako approximates (see Resampler.resize), and a different order can
/// round one level apart when both axes shrink.
@Test(arguments: ResampleFilter.allCases)
func resizeMatchesPillow(_ filter: ResampleFilter) throws {
    let source = try fixtureImage("source_37x23.npy")
    for (w, h) in [(1, 1), (5, 3), (37, 11), (64, 64), (100, 7), (13, 23)] {
        let expected = try fixtureImage("resize_\(filter.rawValue)_\(w)x\(h).npy")
        let actual = try Resampler.resize(source, width: w, height: h, filter: filter)
        let worst = zip(actual.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(actual.width == w && actual.height == h)
        #expect(worst <= 1, "\(filter) \(w)x\(h): differs from Pillow by up to \(worst) levels")
    }
}

/// PNGs of every colour type, bit depth and interlacing decode to what Pillow's convert("RGB")
/// gives (16-bit gray: the high byte, where Pillow clips; see PNGDecoder).
@Test(arguments: ["rgb", "rgba", "gray", "gray_alpha", "palette", "bilevel", "rgb16", "gray16", "interlaced", "gray2", "gray4"])
func pngDecodesLikePillow(_ name: String) throws {
    let decoded = try PNGDecoder.decode(try FileIO.read(imageFixtures + "/\(name).png"))
    #expect(decoded == (try fixtureImage("\(name)_rgb.npy")))
}

@Test func corruptPNGsGiveImageErrors() throws {
    let good = try FileIO.read(imageFixtures + "/rgb.png")
    for bytes in [Array(good.prefix(good.count / 2)), Array(good.prefix(12)), Array("not an image".utf8), []] {
        do {
            _ = try ImageDecoder.decode(bytes)
            Issue.record("decoded \(bytes.count) corrupt bytes")
        } catch let e as ManakoError {
            #expect(e.code == .invalidImage)
        }
    }
    var flipped = good
    flipped[40] ^= 0xFF  // inside IHDR/IDAT: libpng's CRC check fails
    #expect(throws: ManakoError.self) { try PNGDecoder.decode(flipped) }
}

@Test func pixelLimitStopsLargeImagesBeforeDecoding() throws {
    let bytes = try FileIO.read(imageFixtures + "/rgb.png")
    do {
        _ = try PNGDecoder.decode(bytes, maxPixels: 100)
        Issue.record("limit ignored")
    } catch let e as ManakoError {
        #expect(e.code == .limitExceeded && e.message.contains("37x23"))
    }
}

@Test func pixelFormatsConvertToRGB() throws {
    // One 2x1 image in every layout, rows padded to 16 bytes.
    let rgb: [UInt8] = [10, 20, 30, 40, 50, 60]
    func padded(_ row: [UInt8]) -> [UInt8] { row + Array(repeating: 0, count: 16 - row.count) }
    let layouts: [(PixelFormat, [UInt8])] = [
        (.rgb, rgb), (.bgr, [30, 20, 10, 60, 50, 40]),
        (.rgba, [10, 20, 30, 255, 40, 50, 60, 0]), (.bgra, [30, 20, 10, 1, 60, 50, 40, 2]),
    ]
    for (format, row) in layouts {
        let image = try padded(row).withUnsafeBytes { try RGBImage(pixels: $0, width: 2, height: 1, rowStride: 16, format: format) }
        #expect(image.pixels == rgb, "\(format)")
    }
    let gray = try ([7, 9] as [UInt8]).withUnsafeBytes { (p: UnsafeRawBufferPointer) in try RGBImage(pixels: p, width: 2, height: 1, rowStride: 2, format: .gray) }
    #expect(gray.pixels == [7, 7, 7, 9, 9, 9])
    #expect(throws: ManakoError.self) { try rgb.withUnsafeBytes { try RGBImage(pixels: $0, width: 2, height: 2, rowStride: 6, format: .rgb) } }
    #expect(throws: ManakoError.self) { try rgb.withUnsafeBytes { try RGBImage(pixels: $0, width: 2, height: 1, rowStride: 5, format: .rgb) } }
    #expect(throws: ManakoError.self) { try rgb.withUnsafeBytes { try RGBImage(pixels: $0, width: 0, height: 1, rowStride: 6, format: .rgb) } }
}

@Test func cropChecksItsBox() throws {
    let source = try fixtureImage("source_37x23.npy")
    let crop = try source.cropped(left: 36, top: 22, width: 1, height: 1)
    #expect(crop.pixels == Array(source.pixels.suffix(3)))
    #expect(throws: ManakoError.self) { try source.cropped(left: 30, top: 0, width: 8, height: 1) }
}

@Test func efficientNetLiteGeometryCropsTheCentralSquare() throws {
    // 37x23: side floor(23 * 224 / 256) = 20, offsets (8, 1).
    let source = try fixtureImage("source_37x23.npy")
    var preset = Preprocessing.efficientNetLite
    preset.width = 20
    preset.height = 20
    let out = try preset.geometricallyTransformed(source)
    #expect(out == (try source.cropped(left: 8, top: 1, width: 20, height: 20)))
    let tensor = try preset.tensor(from: source)
    #expect(tensor.shape == [1, 3, 20, 20])
    // Channel 0 of pixel (0, 0) is (p - 127) / 128.
    #expect(try tensor.floats()[0] == (Float(out.pixels[0]) - 127) / 128)
}

/// JPEGs of every kind decode to what Pillow gives (ImageOps.exif_transpose + convert("RGB")).
/// libjpeg-turbo decodes identically in both; one level is allowed for version differences.
@Test(arguments: ["baseline_420", "progressive", "baseline_444", "gray", "cmyk",
                  "orientation_3", "orientation_5", "orientation_6", "orientation_8"])
func jpegDecodesLikePillow(_ name: String) throws {
    let decoded = try ImageDecoder.decode(try FileIO.read(imageFixtures + "/jpeg_\(name).jpg"))
    let expected = try fixtureImage("jpeg_\(name).npy")
    #expect(decoded.width == expected.width && decoded.height == expected.height, "\(name): \(decoded.width)x\(decoded.height)")
    let worst = zip(decoded.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
    #expect(worst <= 1, "\(name): differs from Pillow by up to \(worst) levels")
}

@Test func corruptJPEGsGiveImageErrors() throws {
    let good = try FileIO.read(imageFixtures + "/jpeg_baseline_420.jpg")
    for bytes in [Array(good.prefix(good.count / 2)), Array(good.prefix(200)), Array(good.prefix(4))] {
        do {
            _ = try ImageDecoder.decode(bytes)
            Issue.record("decoded a JPEG cut to \(bytes.count) bytes")
        } catch let e as ManakoError {
            #expect(e.code == .invalidImage, "\(e)")
        }
    }
    do {
        _ = try JPEGDecoder.decode(good, maxPixels: 100)
        Issue.record("limit ignored")
    } catch let e as ManakoError {
        #expect(e.code == .limitExceeded && e.message.contains("64x48"))
    }
}
