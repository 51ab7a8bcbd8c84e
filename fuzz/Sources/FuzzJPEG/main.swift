// Fuzzes JPEG decoding (libjpeg-turbo behind Manako's C wrapper, EXIF orientation, CMYK) with a
// 4-megapixel limit.
import FuzzEntry
import Manako

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? JPEGDecoder.decode(Array(UnsafeBufferPointer(start: data, count: size)), maxPixels: 4 << 20)
    return 0
}
