import ManakoCore

// The subset of onnx.proto (IR version 10) that Manako reads. Field numbers follow the
// schema; unknown fields are skipped, as protobuf requires.

/// onnx.TensorProto.DataType values.
public enum ONNXDataType: Int, Sendable {
    case undefined = 0, float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7
    case string = 8, bool = 9, float16 = 10, double = 11, uint32 = 12, uint64 = 13
    case complex64 = 14, complex128 = 15, bfloat16 = 16

    /// Bytes per element in raw_data, for the types Manako converts.
    var byteWidth: Int? {
        switch self {
        case .float, .int32, .uint32: return 4
        case .int64, .double, .uint64: return 8
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        default: return nil
        }
    }

    /// The core element type this ONNX type is converted to, if any.
    public var coreType: ElementType? {
        switch self {
        case .float, .double, .float16, .bfloat16: return .float32
        case .int64, .uint8, .int8, .uint16, .int16, .uint32, .uint64: return .int64
        case .int32: return .int32
        case .bool: return .bool
        default: return nil
        }
    }
}

struct TensorProto {
    var dims: [Int64] = []
    var dataType = 0
    var name = ""
    var rawData: Range<Int>? = nil
    var floatData: [Float] = []
    var int32Data: [Int64] = []
    var int64Data: [Int64] = []
    var doubleData: [Double] = []
    var uint64Data: [Int64] = []
    var externalData: [(String, String)] = []
    var dataLocation = 0
    var hasSegment = false

    init(_ r: inout ProtoReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: try r.appendVarints(wire, to: &dims)
            case 2: dataType = Int(try r.int64(wire))
            case 3: hasSegment = true; try r.skip(wire)
            case 4: try r.appendFloats(wire, to: &floatData)
            case 5: try r.appendVarints(wire, to: &int32Data)
            case 7: try r.appendVarints(wire, to: &int64Data)
            case 8: name = try r.string(wire)
            case 9: rawData = try r.bytesField(wire)
            case 10: try r.appendDoubles(wire, to: &doubleData)
            case 11: try r.appendVarints(wire, to: &uint64Data)
            case 13:
                var e = try r.message(wire, "TensorProto.external_data")
                externalData.append(try stringPair(&e))
            case 14: dataLocation = Int(try r.int64(wire))
            default: try r.skip(wire)
            }
        }
    }
}

/// Reads a StringStringEntryProto (key = 1, value = 2).
func stringPair(_ r: inout ProtoReader) throws -> (String, String) {
    var key = "", value = ""
    while let (field, wire) = try r.nextField() {
        switch field {
        case 1: key = try r.string(wire)
        case 2: value = try r.string(wire)
        default: try r.skip(wire)
        }
    }
    return (key, value)
}

struct AttributeProto {
    enum Kind: Int { case undefined = 0, float = 1, int = 2, string = 3, tensor = 4, graph = 5, floats = 6, ints = 7, strings = 8, tensors = 9, graphs = 10, sparseTensor = 11, sparseTensors = 12, typeProto = 13, typeProtos = 14 }

    var name = ""
    var type = 0
    var f: Float = 0
    var i: Int64 = 0
    var s: Range<Int>? = nil
    var sValue = ""
    var t: TensorProto? = nil
    var floats: [Float] = []
    var ints: [Int64] = []
    var strings: [String] = []
    var hasGraph = false
    var refAttrName = ""

    init(_ r: inout ProtoReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: name = try r.string(wire)
            case 2: f = try r.float(wire)
            case 3: i = try r.int64(wire)
            case 4: s = try r.bytesField(wire); sValue = String(decoding: r.bytes.bytes(s!), as: UTF8.self)
            case 5:
                var sub = try r.message(wire, "AttributeProto.t")
                t = try TensorProto(&sub)
            case 6, 11: hasGraph = true; try r.skip(wire)
            case 7: try r.appendFloats(wire, to: &floats)
            case 8: try r.appendVarints(wire, to: &ints)
            case 9: strings.append(try r.string(wire))
            case 20: type = Int(try r.int64(wire))
            case 21: refAttrName = try r.string(wire)
            default: try r.skip(wire)
            }
        }
    }
}

struct NodeProto {
    var inputs: [String] = []
    var outputs: [String] = []
    var name = ""
    var opType = ""
    var domain = ""
    var attributes: [AttributeProto] = []

    init(_ r: inout ProtoReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: inputs.append(try r.string(wire))
            case 2: outputs.append(try r.string(wire))
            case 3: name = try r.string(wire)
            case 4: opType = try r.string(wire)
            case 5:
                var sub = try r.message(wire, "NodeProto.attribute")
                attributes.append(try AttributeProto(&sub))
            case 7: domain = try r.string(wire)
            default: try r.skip(wire)
            }
        }
    }
}

struct ValueInfoProto {
    var name = ""
    var elemType: Int? = nil
    var dims: [Dimension]? = nil

    init(_ r: inout ProtoReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: name = try r.string(wire)
            case 2:
                var type = try r.message(wire, "ValueInfoProto.type")
                while let (f, w) = try type.nextField() {
                    guard f == 1 else { try type.skip(w); continue }  // only tensor types
                    var tensor = try type.message(w, "TypeProto.tensor_type")
                    while let (tf, tw) = try tensor.nextField() {
                        switch tf {
                        case 1: elemType = Int(try tensor.int64(tw))
                        case 2:
                            var shape = try tensor.message(tw, "TensorShapeProto")
                            var list: [Dimension] = []
                            while let (sf, sw) = try shape.nextField() {
                                guard sf == 1 else { try shape.skip(sw); continue }
                                var dim = try shape.message(sw, "TensorShapeProto.dim")
                                var value: Dimension = .symbolic("")
                                while let (df, dw) = try dim.nextField() {
                                    switch df {
                                    case 1: value = .fixed(Int(try dim.int64(dw)))
                                    case 2: value = .symbolic(try dim.string(dw))
                                    default: try dim.skip(dw)
                                    }
                                }
                                list.append(value)
                            }
                            dims = list
                        default: try tensor.skip(tw)
                        }
                    }
                }
            default: try r.skip(wire)
            }
        }
    }
}

struct GraphProto {
    var name = ""
    var nodes: [NodeProto] = []
    var initializers: [TensorProto] = []
    var inputs: [ValueInfoProto] = []
    var outputs: [ValueInfoProto] = []
    var hasSparseInitializers = false

    init(_ r: inout ProtoReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1:
                var sub = try r.message(wire, "GraphProto.node")
                nodes.append(try NodeProto(&sub))
            case 2: name = try r.string(wire)
            case 5:
                var sub = try r.message(wire, "GraphProto.initializer")
                initializers.append(try TensorProto(&sub))
            case 11:
                var sub = try r.message(wire, "GraphProto.input")
                inputs.append(try ValueInfoProto(&sub))
            case 12:
                var sub = try r.message(wire, "GraphProto.output")
                outputs.append(try ValueInfoProto(&sub))
            case 15: hasSparseInitializers = true; try r.skip(wire)
            default: try r.skip(wire)
            }
        }
    }
}

struct ModelProto {
    var irVersion: Int64 = 0
    var opsetImports: [(domain: String, version: Int)] = []
    var producerName = ""
    var producerVersion = ""
    var graph: GraphProto? = nil
    var metadata: [(String, String)] = []

    init(_ r: inout ProtoReader) throws {
        while let (field, wire) = try r.nextField() {
            switch field {
            case 1: irVersion = try r.int64(wire)
            case 2: producerName = try r.string(wire)
            case 3: producerVersion = try r.string(wire)
            case 7:
                var sub = try r.message(wire, "ModelProto.graph")
                graph = try GraphProto(&sub)
            case 8:
                var sub = try r.message(wire, "ModelProto.opset_import")
                var domain = "", version = 0
                while let (f, w) = try sub.nextField() {
                    switch f {
                    case 1: domain = try sub.string(w)
                    case 2: version = Int(try sub.int64(w))
                    default: try sub.skip(w)
                    }
                }
                opsetImports.append((domain, version))
            case 14:
                var sub = try r.message(wire, "ModelProto.metadata_props")
                metadata.append(try stringPair(&sub))
            default: try r.skip(wire)
            }
        }
    }
}
