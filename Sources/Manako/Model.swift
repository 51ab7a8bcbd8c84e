#if canImport(Glibc)
import Glibc
#endif
@_exported import ManakoCore
@_exported import ManakoImage
@_exported import ManakoONNX

/// Options for loading a model.
public struct ModelOptions: Sendable {
    /// Threads for this model's kernels (nil: every online core). Each model has its own.
    public var threads: Int?
    /// Images with more pixels are refused before decoding allocates.
    public var maxImagePixels: Int
    /// A labels file (one label per line) that overrides the model's own.
    public var labelsPath: String?
    /// A preprocessing preset name or JSON configuration that overrides the model's metadata.
    public var preset: String?
    /// What the model file may make Manako read and allocate (file size, tensor elements,
    /// weight bytes, node count), at load and on every run.
    public var limits: ResourceLimits

    public init(threads: Int? = nil, maxImagePixels: Int = ImageLimits.defaultMaxPixels,
                labelsPath: String? = nil, preset: String? = nil, limits: ResourceLimits = .defaults) {
        self.threads = threads
        self.maxImagePixels = maxImagePixels
        self.labelsPath = labelsPath
        self.preset = preset
        self.limits = limits
    }
}

/// One class of a classification, best first.
public struct Prediction: Sendable, Equatable {
    public var index: Int
    public var probability: Float
    /// nil when the model has no labels.
    public var label: String?
}

/// Metadata keys Manako reads from (and `manako embed` writes to) an ONNX file's metadata_props.
public enum MetadataKey {
    /// A preprocessing preset name (e.g. "efficientnet-lite") or a JSON configuration.
    public static let preset = "manako.preprocessing"
    /// Class labels, one per line, in output order.
    public static let labels = "manako.labels"
}

/// A loaded model: immutable, safe to share between threads.
public final class Model: Sendable {
    public let graph: Graph
    public let summary: ModelSummary
    public let labels: [String]?
    public let preprocessing: Preprocessing
    public let options: ModelOptions

    /// Loads an ONNX file. Labels come from `options.labelsPath`, the model's metadata, or a
    /// sidecar `<model>.labels.txt`, in that order.
    public convenience init(path: String, options: ModelOptions = ModelOptions()) throws {
        let imported = try ONNXImporter.load(path: path, limits: options.limits)
        var sidecar: String? = nil
        if options.labelsPath == nil {
            let stem = path.hasSuffix(".onnx") ? String(path.dropLast(5)) : path
            sidecar = (try? FileIO.read(stem + ".labels.txt")).map { String(decoding: $0, as: UTF8.self) }
        }
        try self.init(imported: imported, options: options, sidecarLabels: sidecar)
    }

    /// Loads an ONNX model from memory (external tensor data is not available this way).
    public convenience init(bytes: [UInt8], options: ModelOptions = ModelOptions()) throws {
        try self.init(imported: try ONNXImporter.load(bytes: bytes, limits: options.limits), options: options, sidecarLabels: nil)
    }

    init(imported: ImportedModel, options: ModelOptions, sidecarLabels: String?) throws {
        guard options.maxImagePixels >= 1 else {
            throw ManakoError(.invalidArgument, "maxImagePixels must be at least 1, got \(options.maxImagePixels)")
        }
        graph = imported.graph
        summary = imported.summary
        self.options = options
        let metadata = Dictionary(imported.summary.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        if let path = options.labelsPath {
            labels = Model.parseLabels(String(decoding: try FileIO.read(path, limit: 64 << 20), as: UTF8.self))
        } else if let text = metadata[MetadataKey.labels] ?? sidecarLabels {
            labels = Model.parseLabels(text)
        } else {
            labels = nil
        }
        // A preset name or a JSON configuration, from the options or the model's metadata.
        var chosen = try Preprocessing.parse(options.preset ?? metadata[MetadataKey.preset] ?? "torchvision")
        // The model's input decides layout and size when it shows them: [N, 3, H, W] is NCHW,
        // [N, H, W, 3] is NHWC (a preset's own layout only applies when the shape is ambiguous).
        if let shape = graph.inputs.first?.shape, shape.count == 4 {
            let dims = shape.map { dimension -> Int? in if case .fixed(let n) = dimension { return n } else { return nil } }
            if dims[1] == 3 && dims[3] != 3 { chosen.layout = .nchw } else if dims[3] == 3 && dims[1] != 3 { chosen.layout = .nhwc }
            let (hAxis, wAxis) = chosen.layout == .nchw ? (2, 3) : (1, 2)
            if let h = dims[hAxis], let w = dims[wAxis], h > 0, w > 0 {
                chosen.height = h
                chosen.width = w
            }
        }
        preprocessing = chosen
        if let threads = options.threads {
            guard threads >= 1 && threads <= 256 else {
                throw ManakoError(.invalidArgument, "thread count \(threads) must be between 1 and 256")
            }
        }
        // The arena sized at load for the declared input shapes (symbolic dimensions as 1), so
        // the first run allocates no activation memory. A dry run that fails (a shape only data
        // decides, say) leaves the rest to the first run; inputs declared larger than
        // `dryRunInputElements` are left to it too (the zeros fed here would be that large).
        if let feeds = zeroInputs(maxElements: min(options.limits.maxTensorElements, Model.dryRunInputElements)) {
            try? Parallel.withThreads(threads) { try graph.sizeArena(feeds) }
        }
    }

    /// The most input elements (all inputs together) a load's dry run feeds.
    static let dryRunInputElements = 1 << 24

    static func parseLabels(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0.hasSuffix("\r") ? $0.dropLast() : $0)
        }
        while lines.last == "" { lines.removeLast() }
        return lines
    }

    public var inputs: [ValueInfo] { graph.inputs }
    public var outputs: [ValueInfo] { graph.outputs }

    /// Threads this model's kernels use: the `threads` option, or every online core.
    public var threads: Int {
        options.threads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Runs the raw graph on this model's threads.
    public func run(_ feeds: [String: Tensor]) throws -> [String: Tensor] {
        try Parallel.withThreads(threads) { try graph.run(feeds) }
    }

    /// Runs the raw graph and records each node's wall time.
    public func run(_ feeds: [String: Tensor], profile: inout [NodeTiming]) throws -> [String: Tensor] {
        try Parallel.withThreads(threads) { try graph.run(feeds, profile: &profile) }
    }

    /// Zeros for every graph input in its declared type, symbolic dimensions taken as 1; nil when
    /// the inputs together would hold more than `maxElements`. (A load sizes its arena on these,
    /// and the fuzzer and its regression tests run every model they load on them.)
    public func zeroInputs(maxElements: Int) -> [String: Tensor]? {
        var feeds: [String: Tensor] = [:]
        var remaining = maxElements
        for input in inputs {
            let shape = (input.shape ?? []).map { dimension -> Int in
                if case .fixed(let n) = dimension { return n } else { return 1 }
            }
            guard let count = Tensor.elementCount(shape), count <= remaining else { return nil }
            remaining -= count
            switch input.elementType {
            case .int64?: feeds[input.name] = Tensor(shape: shape, int64s: [Int64](repeating: 0, count: count))
            case .bool?: feeds[input.name] = Tensor(shape: shape, bools: [Bool](repeating: false, count: count))
            default: feeds[input.name] = Tensor(shape: shape, floats: [Float](repeating: 0, count: count))
            }
        }
        return feeds
    }

    /// Runs a single-input model on one tensor and returns its first output.
    public func run(_ input: Tensor) throws -> Tensor {
        guard graph.inputs.count == 1, let name = graph.inputs.first?.name, let out = graph.outputs.first?.name else {
            throw ManakoError(.invalidArgument, "the model has \(graph.inputs.count) inputs; pass them by name")
        }
        return try run([name: input])[out]!
    }

    /// The input tensor this model's preprocessing makes of an image.
    public func preprocess(_ image: RGBImage) throws -> Tensor {
        try preprocessing.tensor(from: image)
    }

    public func decode(encoded bytes: [UInt8]) throws -> RGBImage {
        try ImageDecoder.decode(bytes, maxPixels: options.maxImagePixels)
    }

    public func classify(_ image: RGBImage, topK: Int = 5) throws -> [Prediction] {
        guard graph.inputs.count == 1 else {
            throw ManakoError(.invalidArgument, "classification needs a model with one input, this one has \(graph.inputs.count)")
        }
        let output = try run(try preprocess(image))
        return try topPredictions(output, topK: topK)
    }

    public func classify(encoded bytes: [UInt8], topK: Int = 5) throws -> [Prediction] {
        try classify(try decode(encoded: bytes), topK: topK)
    }

    public func classify(path: String, topK: Int = 5) throws -> [Prediction] {
        try classify(try decode(file: path), topK: topK)
    }

    /// Reads and decodes an image file under this model's pixel limit; errors name the file.
    public func decode(file path: String) throws -> RGBImage {
        try ImageDecoder.decode(file: path, maxPixels: options.maxImagePixels)
    }

    /// Softmax (unless the output already holds probabilities) and the `topK` best classes of image 0.
    public func topPredictions(_ output: Tensor, topK: Int) throws -> [Prediction] {
        guard topK >= 1 else { throw ManakoError(.invalidArgument, "top-k must be at least 1, got \(topK)") }
        let scores = try output.floats()
        let classes = output.shape.last ?? scores.count
        guard classes > 0, scores.count >= classes else { throw ManakoError(.shapeMismatch, "output \(output.shape) holds no class scores") }
        let probabilities = Classification.probabilities(Array(scores[0..<classes]))
        return Classification.top(probabilities, k: topK).map { index in
            Prediction(index: index, probability: probabilities[index], label: labels.flatMap { index < $0.count ? $0[index] : nil })
        }
    }
}
