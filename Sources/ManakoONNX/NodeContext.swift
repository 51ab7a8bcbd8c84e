import ManakoCore

/// A node being imported: its attributes with typed accessors, and the opset it is read under.
struct NodeContext {
    let node: NodeProto
    let opset: Int
    /// The model file's bytes, which tensor attributes' raw data point into.
    let modelBytes: ByteStore
    let baseDirectory: String?
    let limits: ResourceLimits

    /// A decoder for tensor attributes, under the model's limits.
    func tensorDecoder() -> TensorDecoder {
        TensorDecoder(bytes: modelBytes, baseDirectory: baseDirectory, limits: limits)
    }

    func attribute(_ name: String) -> AttributeProto? { node.attributes.first { $0.name == name } }

    func int(_ name: String, _ fallback: Int) -> Int { attribute(name).map { Int(clamping: $0.i) } ?? fallback }
    func float(_ name: String, _ fallback: Float) -> Float { attribute(name)?.f ?? fallback }
    func string(_ name: String, _ fallback: String) -> String { attribute(name)?.sValue ?? fallback }
    func ints(_ name: String) -> [Int]? { attribute(name).map { $0.ints.map { Int(clamping: $0) } } }

    func requiredInts(_ name: String) throws -> [Int] {
        guard let v = ints(name) else { throw ManakoError(.invalidModel, "attribute '\(name)' is required") }
        return v
    }

    /// ONNX auto_pad strings.
    func autoPad() throws -> AutoPad {
        switch string("auto_pad", "NOTSET") {
        case "NOTSET", "": return .explicit
        case "SAME_UPPER": return .sameUpper
        case "SAME_LOWER": return .sameLower
        case "VALID": return .valid
        case let other: throw ManakoError(.invalidModel, "unknown auto_pad '\(other)'")
        }
    }

    /// Fails when an optional output this importer does not compute is used.
    func refuseOutput(_ index: Int, _ what: String) throws {
        if index < node.outputs.count, !node.outputs[index].isEmpty {
            throw ManakoError(.unsupportedOperator, "output \(index) (\(what)) is not supported")
        }
    }
}
