// Fuzzes PNG decoding (libpng behind Manako's C wrapper) with a 4-megapixel limit.
import FuzzEntry
import Manako

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? PNGDecoder.decode(Array(UnsafeBufferPointer(start: data, count: size)), maxPixels: 4 << 20)
    return 0
}
