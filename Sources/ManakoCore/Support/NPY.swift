/// Reading and writing NumPy `.npy` files (format 1.0-3.0, little-endian, C order):
/// float32, float64 (read as float32), int64, int32, uint8 (read as int64) and bool.
public enum NPY {
    public static func read(_ bytes: [UInt8], name: String = "<npy>") throws -> Tensor {
        func fail(_ what: String) -> ManakoError { ManakoError(.invalidArgument, "\(name): \(what)") }
        guard bytes.count >= 10, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) else { throw fail("not a .npy file") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        } else { throw fail("unsupported .npy version \(major)") }
        guard headerLength <= bytes.count - headerStart else { throw fail("truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.firstRange(of: "'\(key)':") else { return nil }
            return String(String(header[r.upperBound...]).trimmingPrefix(while: { $0 == " " }))
        }
        guard let descrField = field("descr"), let quote = descrField.first, quote == "'" || quote == "\"" else { throw fail("no dtype in header") }
        let descr = String(descrField.dropFirst().prefix { $0 != quote })
        if let order = field("fortran_order"), order.hasPrefix("True") { throw fail("Fortran-ordered arrays are not supported") }
        guard let shapeField = field("shape"), shapeField.first == "(", let close = shapeField.firstIndex(of: ")") else { throw fail("no shape in header") }
        let dims = try shapeField[shapeField.index(after: shapeField.startIndex)..<close].split(separator: ",").compactMap { part -> Int? in
            let t = part.trimmingPrefix(while: { $0 == " " })
            if t.isEmpty { return nil }
            guard let v = Int(t), v >= 0 else { throw fail("bad dimension '\(t)'") }
            return v
        }
        guard let count = Tensor.elementCount(dims) else { throw fail("shape \(dims) is too large") }
        let body = bytes[(headerStart + headerLength)...]
        let width: Int
        switch descr {
        case "<f4", "<i4": width = 4
        case "<f8", "<i8": width = 8
        case "|b1", "|u1": width = 1
        default: throw fail("unsupported dtype '\(descr)' (use float32, float64, int64, int32, uint8 or bool, little-endian)")
        }
        guard body.count / width >= count else { throw fail("data holds \(body.count) bytes, shape \(dims) of \(descr) needs \(count) elements of \(width) bytes") }
        let storage: Tensor.Storage = body.withUnsafeBytes { p in
            switch descr {
            case "<f4": return .float32((0..<count).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) })
            case "<f8": return .float32((0..<count).map { Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))) })
            case "<i8": return .int64((0..<count).map { Int64(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) })
            case "<i4": return .int32((0..<count).map { Int32(littleEndian: p.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) })
            case "|u1": return .int64((0..<count).map { Int64(p[$0]) })
            default: return .bool((0..<count).map { p[$0] != 0 })
            }
        }
        return try Tensor(shape: dims, storage: storage)
    }

    /// Encodes `tensor` as .npy version 1.0 in its own element type.
    public static func write(_ tensor: Tensor) -> [UInt8] {
        let descr: String
        var body: [UInt8] = []
        switch tensor.storage {
        case .float32(let a): descr = "<f4"; for v in a { append(v.bitPattern.littleEndian, to: &body) }
        case .int64(let a): descr = "<i8"; for v in a { append(v.littleEndian, to: &body) }
        case .int32(let a): descr = "<i4"; for v in a { append(v.littleEndian, to: &body) }
        case .bool(let a): descr = "|b1"; body = a.map { $0 ? 1 : 0 }
        }
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        out += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        return out + body
    }

    private static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
    }
}
