// Fuzzes the ONNX reader and graph builder: load the bytes (small limits, so a hostile size is
// refused rather than allocated), then run every loaded model once on zeros.
import FuzzEntry
import Manako

let limits = ResourceLimits(maxFileBytes: 16 << 20, maxTensorElements: 1 << 20, maxWeightBytes: 64 << 20, maxNodes: 10_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let model = try? Model(bytes: bytes, options: ModelOptions(threads: 1, limits: limits)) else { return 0 }
    var feeds: [String: Tensor] = [:]
    for input in model.inputs {
        // Symbolic dimensions become 1; inputs too large for a quick run are skipped.
        let shape = (input.shape ?? []).map { dimension -> Int in
            if case .fixed(let n) = dimension { return n } else { return 1 }
        }
        guard let count = Tensor.elementCount(shape), count <= 1 << 16 else { return 0 }
        switch input.elementType {
        case .int64?: feeds[input.name] = Tensor(shape: shape, int64s: [Int64](repeating: 0, count: count))
        case .bool?: feeds[input.name] = Tensor(shape: shape, bools: [Bool](repeating: false, count: count))
        default: feeds[input.name] = Tensor(shape: shape, floats: [Float](repeating: 0, count: count))
        }
    }
    _ = try? model.run(feeds)
    return 0
}
