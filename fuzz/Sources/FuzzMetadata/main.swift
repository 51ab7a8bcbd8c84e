// Fuzzes the metadata parser: the preprocessing configuration (a preset name or JSON, as stored
// in a model's manako.preprocessing metadata or given by --config), then its use on a small image.
import FuzzEntry
import Manako

let image = try! RGBImage(width: 7, height: 5, pixels: [UInt8](repeating: 128, count: 7 * 5 * 3))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetadata(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let preprocessing = try? Preprocessing.parse(text) else { return 0 }
    // Only sizes a quick run can afford.
    let (area, overflow) = preprocessing.width.multipliedReportingOverflow(by: preprocessing.height)
    if !overflow && area <= 1 << 16 { _ = try? preprocessing.tensor(from: image) }
    return 0
}
