// The C ABI: every exported function is `@c`, validates all pointers and sizes before use,
// and reports failure as a status plus a per-thread message. include/manako.h is generated
// from this file (scripts/generate-header); doc comments here become the header's comments.
#if canImport(Glibc)
import Glibc
#endif
import Manako
import ManakoCTypes
import Synchronization

/// A live model with the C strings the ABI hands out, owned until the model is freed.
final class ModelHandle: @unchecked Sendable {
    let model: Model
    let labels: [UnsafeMutablePointer<CChar>]
    let inputNames: [UnsafeMutablePointer<CChar>]
    let outputNames: [UnsafeMutablePointer<CChar>]

    init(_ model: Model) {
        self.model = model
        labels = (model.labels ?? []).map { strdup($0)! }
        inputNames = model.inputs.map { strdup($0.name)! }
        outputNames = model.outputs.map { strdup($0.name)! }
    }

    deinit {
        for p in labels + inputNames + outputNames { free(p) }
    }
}

/// Live models by handle. A handle is a number, never an address, and numbers are not reused:
/// a freed or foreign handle is refused, even after another model is loaded (no ABA).
let liveHandles = Locked<[UInt: ModelHandle]>([:])
/// The next handle number (multiples of 16, so a handle looks like an aligned pointer).
let nextHandle = Atomic<UInt>(0x1000)

nonisolated(unsafe) let versionString: UnsafeMutablePointer<CChar> = strdup(Manako.version)!

func status(_ code: ManakoError.Code) -> manako_status { manako_status(rawValue: UInt32(code.rawValue)) }

/// Runs `body`, mapping thrown errors to a status and the thread's last-error message.
func guarded(_ body: () throws -> Void) -> manako_status {
    do {
        try body()
        return MANAKO_OK
    } catch let e as ManakoError {
        mk_error_set(e.message)
        return status(e.code)
    } catch {
        mk_error_set("internal error: \(error)")
        return MANAKO_INTERNAL_ERROR
    }
}

func invalid(_ message: String) -> ManakoError { ManakoError(.invalidArgument, message) }

/// A caller's byte count as Int, refusing sizes over `limit` (and so any that would not fit).
func byteCount(_ size: UInt, limit: Int, _ what: String) throws -> Int {
    guard size <= UInt(limit) else { throw ManakoError(.limitExceeded, "\(what) of \(size) bytes is over the limit of \(limit)") }
    return Int(size)
}

func handle(_ model: manako_model_t?) throws -> ModelHandle {
    guard let model else { throw invalid("model is NULL") }
    let key = UInt(bitPattern: UnsafeRawPointer(model))
    guard let h = liveHandles.withLock({ $0[key] }) else {
        throw invalid("model handle \(model) is not a live model (already freed?)")
    }
    return h
}

func string(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
    guard let p else { throw invalid("\(what) is NULL") }
    return String(cString: p)
}

/// The size of manako_options before the limit fields were added (callers built against that header).
let optionsSizeBeforeLimits = MemoryLayout<manako_options>.offset(of: \manako_options.max_file_bytes)!

func options(_ p: UnsafePointer<manako_options>?) throws -> ModelOptions {
    var result = ModelOptions()
    guard let p else { return result }
    let size = Int(p.pointer(to: \.struct_size)!.pointee)  // not p.pointee: an older struct is shorter
    guard size == optionsSizeBeforeLimits || size >= MemoryLayout<manako_options>.size else {
        throw invalid("options.struct_size is \(size); call manako_options_init first")
    }
    if size >= MemoryLayout<manako_options>.size {
        let o = p.pointee
        for (name, value) in [("max_file_bytes", o.max_file_bytes), ("max_tensor_elements", o.max_tensor_elements),
                              ("max_weight_bytes", o.max_weight_bytes), ("max_nodes", o.max_nodes)] where value < 1 {
            throw invalid("options.\(name) must be at least 1, got \(value)")
        }
        result.limits = ResourceLimits(maxFileBytes: Int(o.max_file_bytes), maxTensorElements: Int(o.max_tensor_elements),
                                       maxWeightBytes: Int(o.max_weight_bytes), maxNodes: Int(o.max_nodes))
    }
    // Field by field: a caller built against the older header allocated only the leading ones.
    let threads = p.pointer(to: \.threads)!.pointee, maxPixels = p.pointer(to: \.max_image_pixels)!.pointee
    if threads < 0 { throw invalid("options.threads must be 0 or more, got \(threads)") }
    if threads > 0 { result.threads = Int(threads) }
    if maxPixels < 0 { throw invalid("options.max_image_pixels must be 0 or more") }
    if maxPixels > 0 { result.maxImagePixels = Int(maxPixels) }
    result.labelsPath = p.pointer(to: \.labels_path)!.pointee.map { String(cString: $0) }
    result.preset = p.pointer(to: \.preset)!.pointee.map { String(cString: $0) }
    return result
}

func register(_ model: Model, into out: UnsafeMutablePointer<manako_model_t?>) {
    let h = ModelHandle(model)
    let number = nextHandle.add(16, ordering: .relaxed).oldValue
    liveHandles.withLock { $0[number] = h }
    out.pointee = manako_model_t(bitPattern: number)
}

/// Manako's version as "MAJOR.MINOR.PATCH". The string is static; this call cannot fail.
@c public func manako_version() -> UnsafePointer<CChar> {
    UnsafePointer(versionString)
}

/// The message of the last failed call on the calling thread ("" if none). The string
/// belongs to Manako and stays valid until the next failing call on this thread.
@c public func manako_last_error() -> UnsafePointer<CChar> {
    mk_error_get()
}

/// Fills `options` with defaults (library thread default, the default limits, the model's own
/// labels and preprocessing).
@c public func manako_options_init(_ options: UnsafeMutablePointer<manako_options>?) -> manako_status {
    guarded {
        guard let options else { throw invalid("options is NULL") }
        let limits = ResourceLimits.defaults
        options.pointee = manako_options(
            struct_size: UInt32(MemoryLayout<manako_options>.size), threads: 0,
            max_image_pixels: Int64(ImageLimits.defaultMaxPixels), labels_path: nil, preset: nil,
            max_file_bytes: Int64(limits.maxFileBytes), max_tensor_elements: Int64(limits.maxTensorElements),
            max_weight_bytes: Int64(limits.maxWeightBytes), max_nodes: Int64(limits.maxNodes))
    }
}

/// Loads an ONNX model from a file. `options` may be NULL for defaults. On success
/// `*model` holds a new handle the caller must release with manako_model_free; on failure
/// it is set to NULL.
@c public func manako_model_load(_ path: UnsafePointer<CChar>?, _ options: UnsafePointer<manako_options>?,
                                  _ model: UnsafeMutablePointer<manako_model_t?>?) -> manako_status {
    guarded {
        guard let model else { throw invalid("model (the output pointer) is NULL") }
        model.pointee = nil
        let loaded = try Model(path: try string(path, "path"), options: try ManakoC.options(options))
        register(loaded, into: model)
    }
}

/// Loads an ONNX model from `size` bytes at `data` (copied; the caller keeps ownership).
/// Models with external tensor data must be loaded from a path.
@c public func manako_model_load_memory(_ data: UnsafeRawPointer?, _ size: UInt,
                                         _ options: UnsafePointer<manako_options>?,
                                         _ model: UnsafeMutablePointer<manako_model_t?>?) -> manako_status {
    guarded {
        guard let model else { throw invalid("model (the output pointer) is NULL") }
        model.pointee = nil
        guard let data else { throw invalid("data is NULL") }
        guard size > 0 else { throw invalid("size is 0") }
        let chosen = try ManakoC.options(options)
        let bytes = Array(UnsafeRawBufferPointer(start: data, count: try byteCount(size, limit: chosen.limits.maxFileBytes, "model data")))
        register(try Model(bytes: bytes, options: chosen), into: model)
    }
}

/// Releases a model and sets `*model` to NULL. NULL and `*model == NULL` are accepted
/// (no-op), so freeing twice through the same variable is safe. Strings obtained from the
/// model (labels, names) become invalid.
@c public func manako_model_free(_ model: UnsafeMutablePointer<manako_model_t?>?) -> manako_status {
    guarded {
        guard let model, let pointer = model.pointee else { return }
        let key = UInt(bitPattern: UnsafeRawPointer(pointer))
        guard liveHandles.withLock({ $0.removeValue(forKey: key) }) != nil else {
            throw invalid("model handle \(pointer) is not a live model (already freed?)")
        }
        model.pointee = nil
    }
}

/// Number of graph inputs and outputs. Either pointer may be NULL.
@c public func manako_model_io_count(_ model: manako_model_t?, _ inputs: UnsafeMutablePointer<UInt>?,
                                      _ outputs: UnsafeMutablePointer<UInt>?) -> manako_status {
    guarded {
        let h = try handle(model)
        inputs?.pointee = UInt(h.model.inputs.count)
        outputs?.pointee = UInt(h.model.outputs.count)
    }
}

func describe(_ infos: [ValueInfo], _ names: [UnsafeMutablePointer<CChar>], _ what: String, _ index: UInt,
              _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ shape: UnsafeMutablePointer<Int64>?,
              _ capacity: UInt, _ rank: UnsafeMutablePointer<UInt>?) throws {
    guard index < UInt(infos.count) else { throw invalid("\(what) index \(index) is out of range (the model has \(infos.count))") }
    let info = infos[Int(index)]
    name?.pointee = UnsafePointer(names[Int(index)])
    let dims = info.shape ?? []
    rank?.pointee = UInt(dims.count)
    guard let shape else { return }
    guard capacity >= UInt(dims.count) else {
        throw ManakoError(.bufferTooSmall, "\(what) '\(info.name)' has rank \(dims.count), shape capacity is \(capacity)")
    }
    for (i, d) in dims.enumerated() {
        if case .fixed(let n) = d { shape[i] = Int64(n) } else { shape[i] = -1 }
    }
}

/// Describes graph input `index`: its name (owned by the model), rank and up to `capacity`
/// dimensions (-1 for a symbolic dimension such as a batch size). `name`, `shape` and `rank`
/// may each be NULL.
@c public func manako_model_input_info(_ model: manako_model_t?, _ index: UInt,
                                        _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                        _ shape: UnsafeMutablePointer<Int64>?, _ capacity: UInt,
                                        _ rank: UnsafeMutablePointer<UInt>?) -> manako_status {
    guarded {
        let h = try handle(model)
        try describe(h.model.inputs, h.inputNames, "input", index, name, shape, capacity, rank)
    }
}

/// Describes graph output `index`, as manako_model_input_info does for inputs.
@c public func manako_model_output_info(_ model: manako_model_t?, _ index: UInt,
                                         _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                         _ shape: UnsafeMutablePointer<Int64>?, _ capacity: UInt,
                                         _ rank: UnsafeMutablePointer<UInt>?) -> manako_status {
    guarded {
        let h = try handle(model)
        try describe(h.model.outputs, h.outputNames, "output", index, name, shape, capacity, rank)
    }
}

/// Runs the raw graph on float32 inputs and copies the requested outputs into caller buffers.
/// Every model input must be given once. All requested outputs' `shape`/`rank` are filled
/// before any capacity is checked, so on MANAKO_BUFFER_TOO_SMALL the caller can allocate and retry.
/// Input data is read in place during the call (16-byte-aligned data not sharing memory with an
/// output buffer is not copied) and never written: keep it unchanged until the call returns;
/// nothing refers to it afterwards.
@c public func manako_model_run(_ model: manako_model_t?, _ inputs: UnsafePointer<manako_input>?, _ input_count: UInt,
                                 _ outputs: UnsafeMutablePointer<manako_output>?, _ output_count: UInt) -> manako_status {
    guarded {
        let h = try handle(model)
        let m = h.model
        guard input_count == 0 || inputs != nil else { throw invalid("inputs is NULL") }
        guard output_count == 0 || outputs != nil else { throw invalid("outputs is NULL") }
        guard input_count <= UInt(m.inputs.count) else { throw invalid("\(input_count) inputs given, the model has \(m.inputs.count)") }
        guard output_count <= UInt(m.outputs.count) else { throw invalid("\(output_count) outputs requested, the model has \(m.outputs.count)") }
        var feeds: [String: Tensor] = [:]
        for i in 0..<Int(input_count) {
            let input = inputs![i]
            let name = input.name.map { String(cString: $0) } ?? m.inputs[i].name
            guard input.rank >= 0, input.rank <= Int(MANAKO_MAX_RANK) else { throw invalid("input '\(name)' has rank \(input.rank), over \(MANAKO_MAX_RANK)") }
            guard input.rank == 0 || input.shape != nil else { throw invalid("input '\(name)' has a NULL shape") }
            let dims = (0..<input.rank).map { Int(clamping: input.shape![$0]) }
            guard let count = Tensor.elementCount(dims), count <= 1 << 31 else { throw invalid("input '\(name)' has invalid shape \(dims)") }
            guard count == 0 || input.data != nil else { throw invalid("input '\(name)' has NULL data") }
            guard feeds[name] == nil else { throw invalid("input '\(name)' is given twice") }
            let overlapsAnOutput = (0..<Int(output_count)).contains { j in
                overlaps(input.data, count: count, outputs![j].data, count: Int(clamping: outputs![j].capacity))
            }
            feeds[name] = fedTensor(input.data, shape: dims, count: count, copied: overlapsAnOutput)
        }
        let results = try m.run(feeds)
        let chosen = try (0..<Int(output_count)).map { i -> Tensor in
            let name = outputs![i].name.map { String(cString: $0) } ?? m.outputs[i].name
            guard let t = results[name] else { throw invalid("the model has no output named '\(name)'") }
            return t
        }
        // Shapes of every output first, so one failed call tells the caller all buffer sizes.
        for (i, t) in chosen.enumerated() { try describeShape(t, into: &outputs![i]) }
        for (i, t) in chosen.enumerated() { try copyValues(t, into: outputs![i]) }
    }
}

/// A caller's input for one run: read in place where it is 16-byte aligned (as a [Float]'s
/// elements are, so no kernel sees a worse alignment than after a copy), copied where it is not
/// or where `copied` says it shares memory with an output buffer (outputs are written in
/// turn, and a later one may be the input itself). The run ends before `manako_model_run`
/// returns and no tensor outlives it: outputs are copied out, and borrowed memory never enters
/// the buffer pool.
func fedTensor(_ data: UnsafePointer<Float>?, shape: [Int], count: Int, copied: Bool) -> Tensor {
    guard count > 0, let data else { return Tensor(shape: shape, floats: []) }
    if !copied && Int(bitPattern: data) % 16 == 0 {
        return Tensor(shape: shape, aligned: AlignedFloats(borrowing: data, count: count))
    }
    return Tensor(shape: shape, floats: Array(UnsafeBufferPointer(start: data, count: count)))
}

/// Whether `count` floats at `a` and `otherCount` at `b` share any memory.
func overlaps(_ a: UnsafePointer<Float>?, count: Int, _ b: UnsafeMutablePointer<Float>?, count otherCount: Int) -> Bool {
    guard let a, let b, count > 0, otherCount > 0 else { return false }
    let start = UInt(bitPattern: Int(bitPattern: a)), otherStart = UInt(bitPattern: Int(bitPattern: b))
    // Differences, not ends: a capacity near SIZE_MAX must not wrap around.
    let bytes = UInt(count).multipliedReportingOverflow(by: 4), otherBytes = UInt(otherCount).multipliedReportingOverflow(by: 4)
    if start >= otherStart { return otherBytes.overflow || start - otherStart < otherBytes.partialValue }
    return bytes.overflow || otherStart - start < bytes.partialValue
}

/// Writes a tensor's rank and dimensions into a caller's output record.
func describeShape(_ t: Tensor, into output: inout manako_output) throws {
    guard t.rank <= Int(MANAKO_MAX_RANK) else { throw ManakoError(.shapeMismatch, "a tensor of rank \(t.rank) is over \(MANAKO_MAX_RANK)") }
    output.rank = t.rank
    withUnsafeMutableBytes(of: &output.shape) { raw in
        let dims = raw.bindMemory(to: Int64.self)
        for d in 0..<t.rank { dims[d] = Int64(t.shape[d]) }
    }
}

/// Copies a float32 tensor into a caller's buffer after checking its capacity.
func copyValues(_ t: Tensor, into output: manako_output) throws {
    let values = try t.floats()
    guard values.count <= output.capacity else {
        throw ManakoError(.bufferTooSmall, "the tensor needs \(values.count) floats, capacity is \(output.capacity)")
    }
    guard values.isEmpty || output.data != nil else { throw invalid("output data is NULL") }
    if !values.isEmpty { values.withUnsafeBufferPointer { output.data!.update(from: $0.baseAddress!, count: values.count) } }
}

func deliver(_ predictions: [Prediction], _ h: ModelHandle, _ out: UnsafeMutablePointer<manako_prediction>,
             _ count: UnsafeMutablePointer<UInt>?) {
    for (i, p) in predictions.enumerated() {
        out[i] = manako_prediction(index: Int32(p.index), probability: p.probability,
                                   label: p.index < h.labels.count ? UnsafePointer(h.labels[p.index]) : nil)
    }
    count?.pointee = UInt(predictions.count)
}

func imageFromFile(_ h: ModelHandle, _ path: UnsafePointer<CChar>?) throws -> RGBImage {
    try h.model.decode(file: try string(path, "path"))
}

func imageFromEncoded(_ h: ModelHandle, _ data: UnsafeRawPointer?, _ size: UInt) throws -> RGBImage {
    guard let data, size > 0 else { throw invalid("image data is NULL or empty") }
    return try h.model.decode(encoded: Array(UnsafeRawBufferPointer(start: data, count: try byteCount(size, limit: 1 << 30, "image data"))))
}

func imageFromPixels(_ h: ModelHandle, _ pixels: UnsafeRawPointer?, _ size: UInt, _ width: Int32, _ height: Int32,
                     _ rowStride: UInt, _ format: manako_pixel_format) throws -> RGBImage {
    guard let pixels else { throw invalid("pixels is NULL") }
    guard let pixelFormat = PixelFormat(rawValue: Int32(bitPattern: format.rawValue)) else {
        throw invalid("unknown pixel format \(format.rawValue)")
    }
    guard rowStride <= UInt(Int32.max) else { throw invalid("row_stride \(rowStride) is too large") }
    let buffer = UnsafeRawBufferPointer(start: pixels, count: try byteCount(size, limit: Int.max / 2, "pixel buffer"))
    return try RGBImage(pixels: buffer, width: Int(width), height: Int(height), rowStride: Int(rowStride), format: pixelFormat,
                        maxPixels: h.model.options.maxImagePixels)
}

/// Runs the model's preprocessing and delivers the tensor.
func preprocess(_ h: ModelHandle, _ image: RGBImage, into output: UnsafeMutablePointer<manako_output>?) throws {
    guard let output else { throw invalid("output is NULL") }
    let tensor = try h.model.preprocess(image)
    try describeShape(tensor, into: &output.pointee)
    try copyValues(tensor, into: output.pointee)
}

func checkedPredictions(_ p: UnsafeMutablePointer<manako_prediction>?, _ capacity: UInt) throws -> UnsafeMutablePointer<manako_prediction> {
    guard let p else { throw invalid("predictions is NULL") }
    guard capacity >= 1, capacity <= 1 << 20 else { throw invalid("capacity must be between 1 and 1048576, got \(capacity)") }
    return p
}

/// Classifies an image file (PNG or JPEG) with the model's preprocessing. Writes the `capacity` best
/// classes (fewer if the model has fewer) to `predictions`, best first, and their number to
/// `*count` (which may be NULL).
@c public func manako_model_classify_file(_ model: manako_model_t?, _ path: UnsafePointer<CChar>?,
                                           _ predictions: UnsafeMutablePointer<manako_prediction>?, _ capacity: UInt,
                                           _ count: UnsafeMutablePointer<UInt>?) -> manako_status {
    guarded {
        count?.pointee = 0
        let h = try handle(model)
        let out = try checkedPredictions(predictions, capacity)
        deliver(try h.model.classify(try imageFromFile(h, path), topK: Int(capacity)), h, out, count)
    }
}

/// Classifies an encoded image (PNG or JPEG bytes) held in memory, as manako_model_classify_file does.
@c public func manako_model_classify_encoded(_ model: manako_model_t?, _ data: UnsafeRawPointer?, _ size: UInt,
                                              _ predictions: UnsafeMutablePointer<manako_prediction>?, _ capacity: UInt,
                                              _ count: UnsafeMutablePointer<UInt>?) -> manako_status {
    guarded {
        count?.pointee = 0
        let h = try handle(model)
        let out = try checkedPredictions(predictions, capacity)
        deliver(try h.model.classify(try imageFromEncoded(h, data, size), topK: Int(capacity)), h, out, count)
    }
}

/// Classifies a raw 8-bit pixel buffer of `size` bytes: `height` rows of `width` pixels in
/// `format`, rows `row_stride` bytes apart (at least width times the pixel size).
@c public func manako_model_classify_pixels(_ model: manako_model_t?, _ pixels: UnsafeRawPointer?, _ size: UInt,
                                             _ width: Int32, _ height: Int32, _ row_stride: UInt,
                                             _ format: manako_pixel_format,
                                             _ predictions: UnsafeMutablePointer<manako_prediction>?, _ capacity: UInt,
                                             _ count: UnsafeMutablePointer<UInt>?) -> manako_status {
    guarded {
        count?.pointee = 0
        let h = try handle(model)
        let out = try checkedPredictions(predictions, capacity)
        let image = try imageFromPixels(h, pixels, size, width, height, row_stride, format)
        deliver(try h.model.classify(image, topK: Int(capacity)), h, out, count)
    }
}

/// The model's input tensor for an image file (PNG or JPEG), as its preprocessing makes it: the
/// same pixels classification would feed. `output->shape`/`rank` are filled first, so on
/// MANAKO_BUFFER_TOO_SMALL the caller can allocate and retry; `output->name` is ignored.
@c public func manako_model_preprocess_file(_ model: manako_model_t?, _ path: UnsafePointer<CChar>?,
                                             _ output: UnsafeMutablePointer<manako_output>?) -> manako_status {
    guarded {
        let h = try handle(model)
        try preprocess(h, try imageFromFile(h, path), into: output)
    }
}

/// The model's input tensor for an encoded image (PNG or JPEG bytes), as manako_model_preprocess_file.
@c public func manako_model_preprocess_encoded(_ model: manako_model_t?, _ data: UnsafeRawPointer?, _ size: UInt,
                                                _ output: UnsafeMutablePointer<manako_output>?) -> manako_status {
    guarded {
        let h = try handle(model)
        try preprocess(h, try imageFromEncoded(h, data, size), into: output)
    }
}

/// The model's input tensor for a raw pixel buffer (as manako_model_classify_pixels takes it).
@c public func manako_model_preprocess_pixels(_ model: manako_model_t?, _ pixels: UnsafeRawPointer?, _ size: UInt,
                                               _ width: Int32, _ height: Int32, _ row_stride: UInt,
                                               _ format: manako_pixel_format,
                                               _ output: UnsafeMutablePointer<manako_output>?) -> manako_status {
    guarded {
        let h = try handle(model)
        try preprocess(h, try imageFromPixels(h, pixels, size, width, height, row_stride, format), into: output)
    }
}
