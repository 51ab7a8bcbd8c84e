import ManakoCore

/// Turns TensorProtos into core tensors: raw_data or typed fields, external files,
/// and conversion of float16/bfloat16/float64 to float32 and small integers to int64.
struct TensorDecoder {
    let bytes: ByteStore
    /// Folder external data is read from; nil when the model came from memory.
    let baseDirectory: String?
    let limits: ResourceLimits
    /// Whether `bytes` are this load's alone: nothing reads an initializer's bytes once it is
    /// decoded, so they go back to the system then (`FileIO.releasePages`), float data as it is
    /// copied: the load holds the file or the decoded weights, never a layer twice (VGG-19's
    /// 411 MB fc6).
    var releasesRawData = false
    /// Bytes decoded so far, against `limits.maxWeightBytes`.
    private(set) var decodedBytes = 0
    private var externalFiles: [String: ByteStore] = [:]

    init(bytes: ByteStore, baseDirectory: String?, limits: ResourceLimits = .defaults) {
        self.bytes = bytes
        self.baseDirectory = baseDirectory
        self.limits = limits
    }

    mutating func decode(_ t: TensorProto, what: String) throws -> Tensor {
        do { return try decodeUnlabelled(t) } catch let e as ManakoError { throw e.inContext(what) }
    }

    private mutating func decodeUnlabelled(_ t: TensorProto) throws -> Tensor {
        let shape = t.dims.map { Int(clamping: $0) }
        guard let count = Tensor.elementCount(shape) else {
            throw ManakoError(.invalidModel, "invalid dimensions \(t.dims) (negative or overflowing)")
        }
        guard count <= limits.maxTensorElements else {
            throw ManakoError(.limitExceeded, "dimensions \(t.dims) hold \(count) elements, over the limit of \(limits.maxTensorElements) (maxTensorElements)")
        }
        guard let type = ONNXDataType(rawValue: t.dataType), let width = type.byteWidth, let core = type.coreType else {
            throw ManakoError(.invalidModel, "unsupported data type \(t.dataType)")
        }
        // Decoded size: float32 and int32 take 4 bytes an element, int64 8 (bool 1).
        let decodedWidth = core == .int64 ? 8 : core == .bool ? 1 : 4
        guard count * decodedWidth <= limits.maxWeightBytes - decodedBytes else {
            throw ManakoError(.limitExceeded, "weights would take over \(limits.maxWeightBytes) bytes (maxWeightBytes): \(decodedBytes) decoded before this tensor of \(count * decodedWidth)")
        }
        decodedBytes += count * decodedWidth
        if t.hasSegment { throw ManakoError(.invalidModel, "segmented tensors are not supported") }
        var raw: UnsafeRawBufferPointer? = nil
        if t.dataLocation == 1 {
            raw = try externalBytes(t, expected: count * width)
        } else if let r = t.rawData {
            raw = bytes.bytes(r)
        }
        if let raw {
            guard raw.count == count * width else {
                throw ManakoError(.invalidModel, "raw data holds \(raw.count) bytes, shape \(shape) of \(type) needs \(count * width)")
            }
            let releasing = releasesRawData && t.dataLocation != 1  // not an external file's bytes
            let storage = TensorDecoder.convert(raw, type: type, core: core, count: count, releasing: releasing)
            if releasing, let start = raw.baseAddress { FileIO.releasePages(start, byteCount: raw.count) }
            return try Tensor(shape: shape, storage: storage)
        }
        let storage: Tensor.Storage
        switch type {
        case .float: storage = .float32(t.floatData)
        case .double: storage = .float32(t.doubleData.map { Float($0) })
        case .float16: storage = .float32(t.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) })
        case .bfloat16: storage = .float32(t.int32Data.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16) })
        case .int64: storage = .int64(t.int64Data)
        case .int32: storage = .int32(t.int32Data.map { Int32(truncatingIfNeeded: $0) })
        case .bool: storage = .bool(t.int32Data.map { $0 != 0 })
        case .uint32, .uint64: storage = .int64(t.uint64Data)
        default: storage = .int64(t.int32Data)
        }
        return try Tensor(shape: shape, storage: storage)
    }

    /// Little-endian raw bytes to core storage.
    static func convert(_ raw: UnsafeRawBufferPointer, type: ONNXDataType, core: ElementType, count: Int,
                        releasing: Bool = false) -> Tensor.Storage {
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        switch type {
        case .float:
            // One copy on a little-endian host (ONNX stores little-endian), into huge pages.
            return .float32(HugePages.array(count) { (target: UnsafeMutableBufferPointer<Float>) in
                #if _endian(little)
                // In 4 MB pieces, each released once copied when the bytes are ours.
                let piece = 1 << 20
                for start in stride(from: 0, to: count, by: piece) {
                    let floats = min(piece, count - start), source = raw.baseAddress! + start * 4
                    UnsafeMutableRawPointer(target.baseAddress! + start).copyMemory(from: source, byteCount: floats * 4)
                    if releasing { FileIO.releasePages(source, byteCount: floats * 4) }
                }
                #else
                for i in 0..<count { target[i] = Float(bitPattern: load(UInt32.self, i)) }
                #endif
            })
        case .double: return .float32((0..<count).map { Float(Double(bitPattern: load(UInt64.self, $0))) })
        case .float16: return .float32((0..<count).map { Float(Float16(bitPattern: load(UInt16.self, $0))) })
        case .bfloat16: return .float32((0..<count).map { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) })
        case .int64: return .int64((0..<count).map { load(Int64.self, $0) })
        case .int32: return .int32((0..<count).map { load(Int32.self, $0) })
        case .bool: return .bool((0..<count).map { load(UInt8.self, $0) != 0 })
        case .uint8: return .int64((0..<count).map { Int64(load(UInt8.self, $0)) })
        case .int8: return .int64((0..<count).map { Int64(load(Int8.self, $0)) })
        case .uint16: return .int64((0..<count).map { Int64(load(UInt16.self, $0)) })
        case .int16: return .int64((0..<count).map { Int64(load(Int16.self, $0)) })
        case .uint32: return .int64((0..<count).map { Int64(load(UInt32.self, $0)) })
        default: return .int64((0..<count).map { Int64(bitPattern: load(UInt64.self, $0)) })
        }
    }

    /// Bytes of an external-data tensor. The location must be a relative path inside the
    /// model's folder: absolute paths and ".." are refused so a model cannot read other files.
    private mutating func externalBytes(_ t: TensorProto, expected: Int) throws -> UnsafeRawBufferPointer {
        var location: String? = nil, offset = 0, length: Int? = nil
        for (key, value) in t.externalData {
            switch key {
            case "location": location = value
            case "offset":
                guard let v = Int(value), v >= 0 else { throw ManakoError(.invalidModel, "external data offset '\(value)' is not a number") }
                offset = v
            case "length":
                guard let v = Int(value), v >= 0 else { throw ManakoError(.invalidModel, "external data length '\(value)' is not a number") }
                length = v
            default: break
            }
        }
        guard let location, !location.isEmpty else { throw ManakoError(.invalidModel, "external data has no location") }
        guard let baseDirectory else {
            throw ManakoError(.invalidModel, "tensor data is in external file '\(location)'; load the model from a path, not from memory")
        }
        let parts = location.split(separator: "/", omittingEmptySubsequences: true)
        guard !location.hasPrefix("/"), !parts.contains(".."), !location.contains("\\"), !location.contains("\0") else {
            throw ManakoError(.invalidModel, "external data location '\(location)' leaves the model's folder")
        }
        let path = baseDirectory + "/" + location
        // A symbolic link inside the folder must not lead outside it either.
        guard let folder = FileIO.canonicalPath(baseDirectory), let target = FileIO.canonicalPath(path) else {
            throw ManakoError(.io, "external data file '\(location)' does not exist next to the model")
        }
        guard target.hasPrefix(folder == "/" ? "/" : folder + "/") else {
            throw ManakoError(.invalidModel, "external data location '\(location)' resolves to '\(target)', outside the model's folder")
        }
        let file: ByteStore
        if let cached = externalFiles[target] {
            file = cached
        } else {
            file = try ByteStore.mapping(target, limit: limits.maxFileBytes)
            externalFiles[target] = file
        }
        let size = length ?? expected
        guard offset <= file.count, size <= file.count - offset else {
            throw ManakoError(.invalidModel, "external data '\(location)' is \(file.count) bytes; offset \(offset) + length \(size) runs past its end")
        }
        return file.bytes(offset..<(offset + size))
    }
}
