// Fuzzes the ONNX reader and graph builder: load the bytes (small limits, so a hostile size is
// refused rather than allocated), then run every loaded model once on zeros.
import FuzzEntry
import Manako

let limits = ResourceLimits(maxFileBytes: 16 << 20, maxTensorElements: 1 << 20, maxWeightBytes: 64 << 20, maxNodes: 10_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let model = try? Model(bytes: bytes, options: ModelOptions(threads: 1, limits: limits)),
          let feeds = model.zeroInputs(maxElements: 1 << 16) else { return 0 }
    _ = try? model.run(feeds)
    return 0
}
