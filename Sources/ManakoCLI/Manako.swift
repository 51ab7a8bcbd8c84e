import ArgumentParser
import Foundation
import Manako

@main
struct ManakoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manako",
        abstract: "Classify images with ONNX models on the CPU.",
        version: Manako.version,
        subcommands: [Classify.self, Run.self, Info.self, Embed.self, Preprocess.self, Bench.self],
        defaultSubcommand: nil)
}

/// Runs `body`, turning Manako errors into a one-line message and the status as exit code.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ManakoError {
        FileHandle.standardError.write(Data("manako: error: \(e.message)\n".utf8))
        throw ExitCode(e.code.rawValue)
    }
}

/// The bundled default model: $MANAKO_DEFAULT_MODEL, the repository's Resources folder
/// (found upwards from the executable), or an installed share/manako folder.
func defaultModelPath() throws -> String {
    let fileName = "efficientnet-lite0.onnx"
    if let env = ProcessInfo.processInfo.environment["MANAKO_DEFAULT_MODEL"], !env.isEmpty { return env }
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = executable.deletingLastPathComponent()
    for _ in 0..<6 {
        for candidate in ["Resources/\(fileName)", "share/manako/\(fileName)"] {
            let path = dir.appendingPathComponent(candidate).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        dir = dir.deletingLastPathComponent()
    }
    throw ManakoError(.io, "cannot find the default model \(fileName); pass --model or set MANAKO_DEFAULT_MODEL")
}

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the top classes of each image.")

    @Option(help: "ONNX model (default: the bundled EfficientNet-Lite0).") var model: String?
    @Option(help: "Labels file, one per line (default: the model's own).") var labels: String?
    @Option(help: "Preprocessing preset: \(Preprocessing.presets.keys.sorted().joined(separator: ", ")) (default: the model's metadata, else torchvision).") var preset: String?
    @Option(help: "Preprocessing configuration file (JSON; timm's data config also works).") var config: String?
    @Option(name: .customLong("top-k"), help: "Number of classes to print.") var topK: Int = 5
    @Option(help: "Threads for the linear-algebra kernels.") var threads: Int?
    @Flag(help: "Print one JSON array with an object per image.") var json = false
    @OptionGroup(title: "Limits") var limits: LimitOptions
    @Argument(help: "PNG or JPEG images.") var images: [String]

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        guard preset == nil || config == nil else { throw ValidationError("give --preset or --config, not both") }
    }

    func run() throws {
        try reportingErrors {
            let options = limits.applied(to: ModelOptions(threads: threads, labelsPath: labels,
                                                          preset: try preprocessingText(preset: preset, config: config)))
            let loaded = try Model(path: try model ?? defaultModelPath(), options: options)
            var results: [(String, [Prediction])] = []
            for image in images { results.append((image, try loaded.classify(path: image, topK: topK))) }
            if json {
                print(JSONText.classification(results))
            } else {
                for (image, predictions) in results {
                    if images.count > 1 { print("\(image):") }
                    for p in predictions {
                        let percent = String(format: "%6.2f%%", Double(p.probability) * 100)
                        print("\(percent)  \(String(p.index).leftPadded(4))  \(p.label ?? "class \(p.index)")")
                    }
                }
            }
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the raw graph on .npy inputs and write each output as .npy.")

    @Option(help: "ONNX model.") var model: String
    @Option(name: .customLong("input"), help: "NAME=FILE.npy, once per graph input.") var inputs: [String] = []
    @Option(name: .customLong("output-dir"), help: "Folder for <output name>.npy files.") var outputDir: String
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func run() throws {
        try reportingErrors {
            let loaded = try Model(path: model, options: limits.applied())
            var feeds: [String: Tensor] = [:]
            for spec in inputs {
                guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
                    throw ManakoError(.invalidArgument, "--input '\(spec)' must be NAME=FILE.npy")
                }
                let name = String(spec[..<eq]), file = String(spec[spec.index(after: eq)...])
                feeds[name] = try NPY.read(try FileIO.read(file, limit: loaded.options.limits.maxFileBytes), name: file)
            }
            let outputs = try loaded.run(feeds)
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
            for info in loaded.outputs {
                guard let t = outputs[info.name] else { continue }
                let safe = info.name.map { $0 == "/" ? "_" : $0 }
                try FileIO.write(NPY.write(t), to: outputDir + "/" + String(safe) + ".npy")
            }
        }
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model: inputs, outputs, opsets, operators, parameters, metadata.")

    @Option(help: "ONNX model (default: the bundled one).") var model: String?
    @Flag(help: "Also run the model once (batch 1, synthetic input) and list each node with the algorithm it chose and its time.") var plan = false
    @Option(help: "Threads for --plan.") var threads: Int?
    @OptionGroup(title: "Limits") var limits: LimitOptions

    func run() throws {
        try reportingErrors {
            let path = try model ?? defaultModelPath()
            let options = limits.applied(to: ModelOptions(threads: threads))
            let s = try ONNXImporter.inspect(path: path, limit: options.limits.maxFileBytes)
            defer { if plan && s.unsupported.isEmpty { try? printPlan(path) } }
            func describe(_ v: ValueInfo) -> String {
                let shape = v.shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "(unknown shape)"
                return "  \(v.name): \(v.elementType?.description ?? "unsupported type") \(shape)"
            }
            print("model: \(path)")
            print("ir version: \(s.irVersion)" + (s.producer.isEmpty ? "" : ", producer: \(s.producer)"))
            print("opsets: " + s.opsets.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "ai.onnx" : $0.key) \($0.value)" }.joined(separator: ", "))
            print("inputs:")
            s.inputs.forEach { print(describe($0)) }
            print("outputs:")
            s.outputs.forEach { print(describe($0)) }
            print("parameters: \(s.parameterCount)")
            print("operators (\(s.operatorHistogram.reduce(0) { $0 + $1.count }) nodes):")
            s.operatorHistogram.forEach { print("  \($0.opType.padding(toLength: 24, withPad: " ", startingAt: 0)) \($0.count)") }
            print("metadata:" + (s.metadata.isEmpty ? " none" : ""))
            for (key, value) in s.metadata {
                let lines = value.split(separator: "\n")
                let shown = lines.count > 1 ? "\(lines[0]) ... (\(lines.count) lines)" : value
                print("  \(key): \(shown.prefix(120))")
            }
            if s.unsupported.isEmpty {
                print("unsupported operators: none")
                // What loading does to the graph (the model is loaded only when it can run).
                let r = try ONNXImporter.load(path: path, limits: options.limits).optimization
                print("at load: \(r.foldedConstants) constants folded, \(r.foldedBatchNorms) BatchNormalizations and "
                      + "\(r.foldedPads) Pads folded into convolutions, \(r.batchNormsFusedIntoConcats) BatchNormalizations into Concats, \(r.concatsFusedIntoConvolutions) Concats into the 1x1 convolutions reading them, \(r.poolsMovedBeforeConcats) pools moved before their Concats, \(r.fusedActivations) activations and \(r.fusedResiduals) residual Adds fused, \(r.fusedLayerNorms) written-out LayerNorms fused (\(r.layerNormsFusedIntoMatMuls) LayerNorms into the MatMuls reading them), \(r.packedConvolutions) convolutions' weights packed (\(r.winogradConvolutions) for Winograd), \(r.channelBlockedConvolutions) convolutions in NCHW8c chains, \(r.packedMatMuls) MatMul weights packed, \(r.fusedMatMulBiases) of their bias Adds and \(r.fusedMatMulResiduals) residual Adds fused, \(r.fusedAttentions) attentions fused, \(r.shapesReadThroughViews) Shapes read through views, \(r.gatheredRowRegions) gathered rows run alone, "
                      + "\(r.removedPassThroughs) pass-throughs and \(r.removedDeadNodes) dead nodes removed")
            } else {
                print("unsupported operators (\(s.unsupported.count)):")
                s.unsupported.forEach { print("  \($0)") }
            }
        }
    }
}

extension Info {
    /// One profiled run: every node in execution order with its output shape, plan and time.
    func printPlan(_ path: String) throws {
        let loaded = try Model(path: path, options: limits.applied(to: ModelOptions(threads: threads)))
        let feeds = try syntheticFeeds(loaded, batch: 1)
        _ = try loaded.run(feeds)
        var timings: [NodeTiming] = []
        _ = try loaded.run(feeds, profile: &timings)
        print("plan (\(loaded.threads) thread\(loaded.threads == 1 ? "" : "s"), batch 1, one run after a warm-up):")
        for t in timings {
            let ms = String(format: "%8.3f ms", t.seconds * 1000)
            print("  \(ms)  \(t.name) (\(t.opType)) -> \(t.outputShape)" + (t.plan.map { ": " + $0 } ?? ""))
        }
        print(String(format: "  total %.3f ms", timings.reduce(0) { $0 + $1.seconds } * 1000))
    }
}

/// The text of --preset or of the --config file, validated.
func preprocessingText(preset: String?, config: String?) throws -> String? {
    let text = try config.map { String(decoding: try FileIO.read($0, limit: 1 << 20), as: UTF8.self) } ?? preset
    if let text { _ = try Preprocessing.parse(text) }
    return text
}

struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the tensor an image becomes (float32, batch of one) as .npy, to compare with training code.")

    @Option(help: "Preprocessing preset.") var preset: String?
    @Option(help: "Preprocessing configuration file (JSON; timm's data config also works).") var config: String?
    @Option(help: "Use this model's preprocessing (its metadata and input size).") var model: String?
    @Option(help: "Output .npy file.") var output: String
    @OptionGroup(title: "Limits") var limits: LimitOptions
    @Argument(help: "PNG or JPEG image.") var image: String

    func validate() throws {
        guard [preset, config, model].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --preset, --config and --model")
        }
    }

    func run() throws {
        try reportingErrors {
            let options = limits.applied()
            let decoded = try ImageDecoder.decode(file: image, maxPixels: options.maxImagePixels)
            let tensor: Tensor
            if let model {
                tensor = try Model(path: model, options: options).preprocess(decoded)
            } else {
                tensor = try Preprocessing.parse(try preprocessingText(preset: preset, config: config)!).tensor(from: decoded)
            }
            try FileIO.write(NPY.write(tensor), to: output)
        }
    }
}

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Store a preprocessing preset and labels in a model's metadata.")

    @Option(help: "Input ONNX model.") var model: String
    @Option(help: "Preprocessing preset to record.") var preset: String?
    @Option(help: "Preprocessing configuration (JSON file) to record.") var config: String?
    @Option(help: "Labels file (one per line) to record.") var labels: String?
    @Option(help: "Output ONNX model.") var output: String

    func run() throws {
        try reportingErrors {
            var entries: [(key: String, value: String)] = []
            guard preset == nil || config == nil else { throw ManakoError(.invalidArgument, "give --preset or --config, not both") }
            if let text = try preprocessingText(preset: preset, config: config) { entries.append((MetadataKey.preset, text)) }
            if let labels { entries.append((MetadataKey.labels, String(decoding: try FileIO.read(labels), as: UTF8.self))) }
            guard !entries.isEmpty else { throw ManakoError(.invalidArgument, "nothing to embed: give --preset or --config, and/or --labels") }
            try FileIO.write(MetadataWriter.setting(entries, in: try FileIO.read(model)), to: output)
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
