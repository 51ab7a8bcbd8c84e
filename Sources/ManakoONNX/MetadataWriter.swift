import ManakoCore

/// Sets `metadata_props` entries of an ONNX model without re-encoding anything else:
/// top-level fields are copied byte for byte, entries with the given keys are dropped,
/// and the new entries are appended (protobuf allows fields in any order).
public enum MetadataWriter {
    public static func setting(_ entries: [(key: String, value: String)], in bytes: [UInt8]) throws -> [UInt8] {
        let store = ByteStore(copying: bytes)
        _ = try ONNXImporter.parse(store)  // refuse what is not a model
        let replaced = Set(entries.map(\.key))
        var reader = ProtoReader(store, context: "ModelProto")
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var fieldStart = reader.position
        while let (field, wire) = try reader.nextField() {
            var keep = true
            if field == 14 {
                var entry = try reader.message(wire, "ModelProto.metadata_props")
                keep = !replaced.contains(try stringPair(&entry).0)
            } else {
                try reader.skip(wire)
            }
            if keep { out += bytes[fieldStart..<reader.position] }
            fieldStart = reader.position
        }
        for (key, value) in entries {
            var entry: [UInt8] = []
            appendLengthDelimited(1, Array(key.utf8), to: &entry)
            appendLengthDelimited(2, Array(value.utf8), to: &entry)
            appendLengthDelimited(14, entry, to: &out)
        }
        return out
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func appendLengthDelimited(_ field: Int, _ payload: [UInt8], to out: inout [UInt8]) {
        appendVarint(UInt64(field << 3 | 2), to: &out)
        appendVarint(UInt64(payload.count), to: &out)
        out += payload
    }
}
