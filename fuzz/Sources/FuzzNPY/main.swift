// Fuzzes the .npy reader (the CLI's `manako run --input`).
import FuzzEntry
import Manako

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? NPY.read(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
