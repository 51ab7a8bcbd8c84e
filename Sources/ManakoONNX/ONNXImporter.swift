import ManakoCore

/// An operator the importer cannot build, with where it occurs.
public struct UnsupportedOperator: Sendable, Equatable, CustomStringConvertible {
    public var opType: String
    public var domain: String
    public var node: String
    public var opset: Int
    public var reason: String?

    public var description: String {
        let name = domain.isEmpty || domain == "ai.onnx" ? opType : "\(domain).\(opType)"
        return "\(name) (node '\(node)', opset \(opset))" + (reason.map { ": \($0)" } ?? "")
    }
}

/// What a model file declares, readable even when it cannot run (for `manako info`).
public struct ModelSummary: Sendable {
    public var irVersion: Int
    public var producer: String
    /// Opset per domain ("" is the default ONNX domain).
    public var opsets: [String: Int]
    public var metadata: [(key: String, value: String)]
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Operator type and node count, most frequent first.
    public var operatorHistogram: [(opType: String, count: Int)]
    public var parameterCount: Int
    public var unsupported: [UnsupportedOperator]
}

/// A model ready to run.
public struct ImportedModel: Sendable {
    public var graph: Graph
    public var summary: ModelSummary
    /// What the load-time passes changed.
    public var optimization: GraphOptimizer.Report
}

/// Reads ONNX files (from a path or memory) into core graphs.
public enum ONNXImporter {
    public static func load(path: String, limits: ResourceLimits = .defaults) throws -> ImportedModel {
        try limits.validate()
        // The file, mapped, goes to the load, which releases its pages as the weights are decoded:
        // the mapping is this load's alone, so no one else sees its pages go.
        return try load(owning: ByteStore.mapping(path, limit: limits.maxFileBytes), baseDirectory: FileIO.directory(of: path),
                        origin: path, limits: limits, releasingDecodedBytes: true)
    }

    /// Loads from memory. External tensor data is read from `baseDirectory`, or refused when nil.
    /// Every size the file declares is checked against `limits` before it is allocated.
    public static func load(bytes: [UInt8], baseDirectory: String? = nil, origin: String = "<memory>",
                            limits: ResourceLimits = .defaults) throws -> ImportedModel {
        // Read where they are: nothing the load returns points into them.
        try bytes.withUnsafeBytes {
            try load(owning: ByteStore(borrowing: $0), baseDirectory: baseDirectory, origin: origin, limits: limits)
        }
    }

    /// `load` with the bytes handed over: they, and the parsed model whose tensors point into
    /// them, are released before the weights are prepared, so the load's peak memory does not
    /// hold the file as well as the decoded and the packed weights (ResNet-50: 100 MB).
    /// `releasingDecodedBytes`: the bytes are this load's alone (not a caller's array), so the
    /// pages under each initializer are returned to the system as soon as it is decoded.
    static func load(owning bytes: consuming ByteStore, baseDirectory: String?, origin: String,
                     limits: ResourceLimits, releasingDecodedBytes: Bool = false) throws -> ImportedModel {
        do {
            try limits.validate()
            guard bytes.count <= limits.maxFileBytes else {
                throw ManakoError(.limitExceeded, "\(bytes.count) bytes, over the limit of \(limits.maxFileBytes) (maxFileBytes)")
            }
            let (summary, decoded) = try decode(consume bytes, baseDirectory: baseDirectory, limits: limits,
                                                releasingDecodedBytes: releasingDecodedBytes)
            let (graph, report) = try prepare(consume decoded, limits: limits)
            return ImportedModel(graph: graph, summary: summary, optimization: report)
        } catch let e as ManakoError {
            throw e.inContext("model '\(origin)'")
        }
    }

    /// A model's graph decoded from its file: constants, nodes with their operators, inputs and outputs.
    struct Decoded {
        let constants: [String: Tensor]
        let specs: [NodeSpec]
        let inputs, outputs: [ValueInfo]
    }

    /// Parses and summarises the file (unsupported operators throw, all named), then decodes its
    /// graph; the bytes and the parsed model end here.
    static func decode(_ bytes: consuming ByteStore, baseDirectory: String?, limits: ResourceLimits,
                       releasingDecodedBytes: Bool = false) throws -> (ModelSummary, Decoded) {
        let model = try parse(bytes)
        let nodeCount = model.graph!.nodes.count
        guard nodeCount <= limits.maxNodes else {
            throw ManakoError(.limitExceeded, "the graph has \(nodeCount) nodes, over the limit of \(limits.maxNodes) (maxNodes)")
        }
        let summary = try summarize(model, bytes: bytes)
        if !summary.unsupported.isEmpty {
            let list = summary.unsupported.map(\.description).joined(separator: "; ")
            throw ManakoError(.unsupportedOperator, "\(summary.unsupported.count) unsupported operator(s): \(list)")
        }
        let decoded = try ElementLimit.with(limits.maxTensorElements) {
            try decodeGraph(model, bytes: bytes, baseDirectory: baseDirectory, opset: summary.opsets[""] ?? 0, limits: limits,
                            releasingDecodedBytes: releasingDecodedBytes)
        }
        return (summary, decoded)
    }

    /// Summarises a model without building it; unsupported operators are listed, not thrown.
    public static func inspect(bytes: [UInt8]) throws -> ModelSummary {
        try bytes.withUnsafeBytes { try inspect(ByteStore(borrowing: $0)) }
    }

    /// Summarises a model file (mapped, not read into memory).
    public static func inspect(path: String, limit: Int = ResourceLimits.defaults.maxFileBytes) throws -> ModelSummary {
        try inspect(ByteStore.mapping(path, limit: limit))
    }

    static func inspect(_ store: ByteStore) throws -> ModelSummary {
        try summarize(try parse(store), bytes: store)
    }

    static func parse(_ bytes: ByteStore) throws -> ModelProto {
        var reader = ProtoReader(bytes, context: "ModelProto")
        let model = try ModelProto(&reader)
        guard model.graph != nil else {
            throw ManakoError(.invalidModel, "not an ONNX model: no graph (is this an ONNX file?)")
        }
        return model
    }

    static func opsets(_ model: ModelProto) -> [String: Int] {
        var result: [String: Int] = [:]
        for (domain, version) in model.opsetImports { result[domain == "ai.onnx" ? "" : domain] = version }
        // IR version 3 files without opset_import mean opset 1.
        if result[""] == nil { result[""] = 1 }
        return result
    }

    static func summarize(_ model: ModelProto, bytes: ByteStore) throws -> ModelSummary {
        let graph = model.graph!
        let opsetMap = opsets(model)
        let initializerNames = Set(graph.initializers.map(\.name))
        var histogram: [String: Int] = [:]
        var unsupported: [UnsupportedOperator] = []
        for (index, node) in graph.nodes.enumerated() {
            let isDefault = node.domain.isEmpty || node.domain == "ai.onnx"
            histogram[isDefault ? node.opType : "\(node.domain).\(node.opType)", default: 0] += 1
            let opset = opsetMap[isDefault ? "" : node.domain] ?? 0
            if !isDefault || operatorTable[node.opType] == nil {
                unsupported.append(UnsupportedOperator(opType: node.opType, domain: node.domain,
                                                       node: nodeName(node, index), opset: opset))
            }
        }
        var parameters = 0
        for t in graph.initializers {
            parameters += Tensor.elementCount(t.dims.map { Int(clamping: $0) }) ?? 0
        }
        return ModelSummary(
            irVersion: Int(model.irVersion), producer: [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " "),
            opsets: opsetMap, metadata: model.metadata.map { (key: $0.0, value: $0.1) },
            inputs: graph.inputs.filter { !initializerNames.contains($0.name) }.map(valueInfo),
            outputs: graph.outputs.map(valueInfo),
            operatorHistogram: histogram.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) },
            parameterCount: parameters, unsupported: unsupported)
    }

    static func nodeName(_ node: NodeProto, _ index: Int) -> String {
        node.name.isEmpty ? "#\(index) \(node.opType)" : node.name
    }

    static func valueInfo(_ v: ValueInfoProto) -> ValueInfo {
        ValueInfo(name: v.name, elementType: v.elemType.flatMap { ONNXDataType(rawValue: $0)?.coreType }, shape: v.dims)
    }

    /// The graph's constants (decoded into arrays of their own) and nodes with their operators.
    static func decodeGraph(_ model: ModelProto, bytes: ByteStore, baseDirectory: String?, opset: Int,
                            limits: ResourceLimits, releasingDecodedBytes: Bool = false) throws -> Decoded {
        let graph = model.graph!
        if graph.hasSparseInitializers { throw ManakoError(.invalidModel, "sparse initializers are not supported") }
        var decoder = TensorDecoder(bytes: bytes, baseDirectory: baseDirectory, limits: limits)
        decoder.releasesRawData = releasingDecodedBytes
        var constants: [String: Tensor] = [:]
        for t in graph.initializers {
            guard !t.name.isEmpty else { throw ManakoError(.invalidModel, "an initializer has no name") }
            constants[t.name] = try decoder.decode(t, what: "initializer '\(t.name)'")
        }
        var specs: [NodeSpec] = []
        for (index, node) in graph.nodes.enumerated() {
            let name = nodeName(node, index)
            let context = NodeContext(node: node, opset: opset, modelBytes: bytes, baseDirectory: baseDirectory, limits: limits)
            do {
                let op = try operatorTable[node.opType]!(context)
                specs.append(NodeSpec(name: name, opType: node.opType, op: op, inputs: node.inputs, outputs: node.outputs))
            } catch let e as ManakoError {
                throw e.inContext("node '\(name)' (\(node.opType), opset \(opset))")
            }
        }
        // Initializers that are also listed as inputs are constants here (ONNX IR < 4 lists them).
        let inputs = graph.inputs.filter { constants[$0.name] == nil }.map(valueInfo)
        for i in inputs where i.elementType == nil {
            throw ManakoError(.invalidModel, "graph input '\(i.name)' has an unsupported or missing element type")
        }
        let outputs = graph.outputs.map(valueInfo)
        return Decoded(constants: constants, specs: specs, inputs: inputs, outputs: outputs)
    }

    /// The graph optimised, checked against its shapes, and its weights prepared.
    /// `decoded` is consumed: no copy of its constants outlives the passes that drop them, so a
    /// weight's decoded floats go as soon as they are packed.
    static func prepare(_ decoded: consuming Decoded, limits: ResourceLimits) throws -> (Graph, GraphOptimizer.Report) {
        var constants = decoded.constants
        let (specs, inputs, outputs) = (decoded.specs, decoded.inputs, decoded.outputs)
        _ = consume decoded
        return try ElementLimit.with(limits.maxTensorElements) {
            try prepareNodes(specs, inputs: inputs, outputs: outputs, constants: &constants, limits: limits)
        }
    }

    /// `prepare`'s passes over the nodes, dropping each constant from `constants` once no node needs it.
    static func prepareNodes(_ specs: [NodeSpec], inputs: [ValueInfo], outputs: [ValueInfo], constants: inout [String: Tensor],
                             limits: ResourceLimits) throws -> (Graph, GraphOptimizer.Report) {
        _ = try Graph.singleProducers(of: specs, besides: Set(constants.keys).union(inputs.map(\.name)))
        var (optimized, report) = try GraphOptimizer.optimize(nodes: specs, constants: &constants, outputs: outputs, packWeights: false)
        // (A graph only for the shapes: kept, it would hold every decoded weight to the end.)
        let shapes = try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: optimized,
                               maxTensorElements: limits.maxTensorElements).inferShapes()  // shape contradictions fail the load, naming the node
        // A value whose shape is known at load must fit the limit before any run allocates it.
        for (name, shape) in shapes where shape.allSatisfy({ $0 != nil }) {
            try ElementLimit.check(shape.map { $0! }, "value '\(name)'")
        }
        // With the shapes known, chains of 1x1 and depthwise convolutions move to the blocked
        // layout; the other convolutions' weights are packed, and each keeps only the prepared
        // form it will use.
        let (blocked, blockedCount) = GraphOptimizer.blockChannels(optimized, shapes: shapes, constants: &constants, outputs: outputs)
        report.channelBlockedConvolutions = blockedCount
        let packed = GraphOptimizer.packConvolutionWeights(blocked, constants: constants, report: &report)
        let (kept, _) = GraphOptimizer.keepPreparedWeightsInUse(packed, shapes: shapes, constants: &constants, outputs: outputs)
        let viewed = GraphOptimizer.readThroughViews(kept, constants: &constants, outputs: outputs, report: &report)
        let trimmed = try GraphOptimizer.fuseGatheredRowRegions(viewed, constants: constants, outputNames: Set(outputs.map(\.name)),
                                                                maxTensorElements: limits.maxTensorElements, report: &report)
        // The graph is built once, from the last pass's nodes, which match the constants the passes left.
        return (try Graph(inputs: inputs, outputs: outputs, constants: constants, nodes: trimmed, maxTensorElements: limits.maxTensorElements),
                report)
    }
}

extension ONNXImporter {
    /// Decodes a serialized TensorProto (the `.pb` files of ONNX's test data) into its name and tensor.
    public static func decodeTensor(bytes array: [UInt8]) throws -> (name: String, tensor: Tensor) {
        try array.withUnsafeBytes {
            let bytes = ByteStore(borrowing: $0)
            var reader = ProtoReader(bytes, context: "TensorProto")
            let proto = try TensorProto(&reader)
            var decoder = TensorDecoder(bytes: bytes, baseDirectory: nil)
            return (proto.name, try decoder.decode(proto, what: "tensor '\(proto.name)'"))
        }
    }
}
