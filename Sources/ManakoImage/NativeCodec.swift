import CManakoCodecs
import ManakoCore

/// Calls one of the C decoders (libpng, libjpeg) and turns its status into Manako errors.
enum NativeCodec {
    typealias Decoder = (UnsafePointer<UInt8>?, Int, Int64, UnsafeMutablePointer<mk_image>?, UnsafeMutablePointer<CChar>?, Int) -> Int32

    /// Decodes `bytes` with `decoder` and hands the C image (valid only inside) to `convert`.
    static func decode<T>(_ bytes: [UInt8], maxPixels: Int, format: String, decoder: Decoder,
                          convert: (mk_image, UnsafeMutablePointer<UInt8>) throws -> T) throws -> T {
        var image = mk_image()
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { data in
            decoder(data.baseAddress, data.count, Int64(maxPixels), &image, &message, message.count)
        }
        defer { mk_image_free(&image) }
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if status == 2 { throw ManakoError(.limitExceeded, text) }
        guard status == 0, let pixels = image.pixels else { throw ManakoError(.invalidImage, "invalid \(format): \(text)") }
        return try convert(image, pixels)
    }
}
