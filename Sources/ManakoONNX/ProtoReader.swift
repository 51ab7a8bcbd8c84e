import ManakoCore

/// A bounds-checked reader of the protobuf wire format over a byte range.
/// Every read checks the remaining length first, so hostile input yields errors, not traps.
struct ProtoReader {
    enum WireType: UInt8 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    let bytes: ByteStore
    private(set) var position: Int
    let end: Int
    /// What is being read, for error messages (e.g. "ModelProto.graph").
    let context: String

    init(_ bytes: ByteStore, range: Range<Int>? = nil, context: String) {
        self.bytes = bytes
        self.position = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
        self.context = context
    }

    var atEnd: Bool { position >= end }

    func error(_ what: String) -> ManakoError {
        ManakoError(.invalidModel, "malformed protobuf in \(context) at byte \(position): \(what)")
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error("truncated varint") }
            let b = bytes[position]
            position += 1
            guard shift < 64 else { throw error("varint longer than 10 bytes") }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Next field tag, or nil at the end of the message.
    mutating func nextField() throws -> (number: Int, wire: WireType)? {
        guard !atEnd else { return nil }
        let key = try varint()
        guard let wire = WireType(rawValue: UInt8(key & 7)) else {
            throw error("unsupported wire type \(key & 7)")
        }
        let number = Int(truncatingIfNeeded: key >> 3)
        guard number > 0 else { throw error("field number 0") }
        return (number, wire)
    }

    /// The byte range of a length-delimited field.
    mutating func lengthDelimited() throws -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else {
            throw error("field length \(length) runs past the end (\(end - position) bytes left)")
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw error("truncated fixed32") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func fixed64() throws -> UInt64 {
        guard end - position >= 8 else { throw error("truncated fixed64") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    mutating func skip(_ wire: WireType) throws {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    mutating func string(_ wire: WireType) throws -> String {
        guard wire == .lengthDelimited else { throw error("expected a string") }
        let r = try lengthDelimited()
        return String(decoding: bytes.bytes(r), as: UTF8.self)
    }

    mutating func bytesField(_ wire: WireType) throws -> Range<Int> {
        guard wire == .lengthDelimited else { throw error("expected bytes") }
        return try lengthDelimited()
    }

    mutating func int64(_ wire: WireType) throws -> Int64 {
        guard wire == .varint else { throw error("expected a varint") }
        return Int64(bitPattern: try varint())
    }

    mutating func float(_ wire: WireType) throws -> Float {
        guard wire == .fixed32 else { throw error("expected a float") }
        return Float(bitPattern: try fixed32())
    }

    /// A sub-reader for an embedded message.
    mutating func message(_ wire: WireType, _ name: String) throws -> ProtoReader {
        guard wire == .lengthDelimited else { throw error("expected an embedded message for \(name)") }
        return ProtoReader(bytes, range: try lengthDelimited(), context: name)
    }

    /// Repeated varints, packed or not, appended to `out`.
    mutating func appendVarints(_ wire: WireType, to out: inout [Int64]) throws {
        if wire == .varint { out.append(Int64(bitPattern: try varint())); return }
        guard wire == .lengthDelimited else { throw error("expected varints") }
        var sub = ProtoReader(bytes, range: try lengthDelimited(), context: context)
        while !sub.atEnd { out.append(Int64(bitPattern: try sub.varint())) }
    }

    /// Repeated floats, packed or not, appended to `out`.
    mutating func appendFloats(_ wire: WireType, to out: inout [Float]) throws {
        if wire == .fixed32 { out.append(Float(bitPattern: try fixed32())); return }
        guard wire == .lengthDelimited else { throw error("expected floats") }
        let r = try lengthDelimited()
        guard r.count % 4 == 0 else { throw error("packed floats of \(r.count) bytes") }
        var sub = ProtoReader(bytes, range: r, context: context)
        out.reserveCapacity(out.count + r.count / 4)
        while !sub.atEnd { out.append(Float(bitPattern: try sub.fixed32())) }
    }

    /// Repeated doubles, packed or not, appended to `out`.
    mutating func appendDoubles(_ wire: WireType, to out: inout [Double]) throws {
        if wire == .fixed64 { out.append(Double(bitPattern: try fixed64())); return }
        guard wire == .lengthDelimited else { throw error("expected doubles") }
        let r = try lengthDelimited()
        guard r.count % 8 == 0 else { throw error("packed doubles of \(r.count) bytes") }
        var sub = ProtoReader(bytes, range: r, context: context)
        while !sub.atEnd { out.append(Double(bitPattern: try sub.fixed64())) }
    }
}
