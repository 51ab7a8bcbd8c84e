import Foundation
import Manako
import Synchronization
import Testing

/// One row of Tests/Malformed/cases.tsv (written by scripts/make-malformed.py).
struct HostileCase: CustomTestStringConvertible, Sendable {
    var kind: String
    var file: String
    var status: ManakoError.Code
    var fragment: String

    var testDescription: String { file }

    static let folder = root + "/Tests/Malformed"
    static let statusNames: [String: ManakoError.Code] = [
        "INVALID_ARGUMENT": .invalidArgument, "INVALID_MODEL": .invalidModel, "UNSUPPORTED_OPERATOR": .unsupportedOperator,
        "SHAPE_MISMATCH": .shapeMismatch, "IO_ERROR": .io, "INVALID_IMAGE": .invalidImage, "LIMIT_EXCEEDED": .limitExceeded,
    ]

    static let all: [HostileCase] = {
        let text = String(decoding: (try? FileIO.read(folder + "/cases.tsv")) ?? [], as: UTF8.self)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return HostileCase(kind: f[0], file: f[1], status: statusNames[f[2]] ?? .internal, fragment: f.count > 3 ? f[3] : "")
        }
    }()
}

@Test func theHostileSuiteIsPresent() {
    #expect(HostileCase.all.count >= 40)
    #expect(Set(HostileCase.all.map(\.kind)) == ["load", "run", "image"])
}

@Test(arguments: HostileCase.all)
func hostileInputGivesItsStatusAndNamesTheProblem(_ c: HostileCase) throws {
    let path = HostileCase.folder + "/" + c.file
    do {
        switch c.kind {
        case "load":
            _ = try Model(path: path)
        case "run":
            let loaded = try Model(path: path)
            _ = try loaded.run(["x": Tensor(shape: [1, 3, 8, 8], floats: [Float](repeating: 0, count: 192))])
        default:
            _ = try model.classify(path: path)
        }
        Issue.record("\(c.file) was accepted")
    } catch let e as ManakoError {
        #expect(e.code == c.status, "\(c.file): \(e.message)")
        #expect(!c.fragment.isEmpty && e.message.contains(c.fragment), "\(c.file): '\(e.message)' does not mention '\(c.fragment)'")
    }
}

/// A small xorshift generator, so that every mutation is reproducible from its seed.
struct Xorshift {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Int(state % UInt64(bound))
    }
}

/// `bytes` with 1-8 random bytes replaced, or cut short (one case in eight).
func mutated(_ bytes: [UInt8], seed: UInt64) -> [UInt8] {
    var rng = Xorshift(state: seed &* 0x9E3779B97F4A7C15 | 1)
    var copy = bytes
    if rng.next(8) == 0 { return Array(copy.prefix(rng.next(copy.count))) }
    for _ in 0...rng.next(8) { copy[rng.next(copy.count)] = UInt8(rng.next(256)) }
    return copy
}

@Test func randomlyCorruptedModelsLoadOrFailCleanly() throws {
    // Surviving 400 corruptions in-process is the test: a trap would end the test run.
    let original = try FileIO.read(root + "/Tests/ManakoONNXTests/Models/small_raw/model.onnx")
    let input = try NPY.read(try FileIO.read(root + "/Tests/ManakoONNXTests/Models/small_raw/input_0_x.npy"))
    var outcomes: [String: Int] = [:]
    for seed in 1...400 as ClosedRange<UInt64> {
        do {
            let loaded = try Model(bytes: mutated(original, seed: seed))
            _ = try loaded.run([loaded.inputs[0].name: input])
            outcomes["ran", default: 0] += 1
        } catch let e as ManakoError {
            #expect(e.code != .internal, "seed \(seed): \(e.message)")
            outcomes["\(e.code)", default: 0] += 1
        }
    }
    #expect(outcomes["invalidModel", default: 0] > 100, "\(outcomes)")
}

@Test func randomlyCorruptedImagesDecodeOrFailCleanly() throws {
    for name in ["rgb.png", "jpeg_baseline_420.jpg"] {
        let original = try FileIO.read(root + "/Tests/ManakoImageTests/Fixtures/" + name)
        var failures = 0
        for seed in 1...300 as ClosedRange<UInt64> {
            do {
                _ = try ImageDecoder.decode(mutated(original, seed: seed))
            } catch let e as ManakoError {
                #expect(e.code == .invalidImage || e.code == .limitExceeded, "\(name) seed \(seed): \(e.message)")
                failures += 1
            }
        }
        #expect(failures > 30, "\(name): only \(failures) of 300 corruptions were refused")
    }
}

@Test func everyLimitIsEnforcedFromTheOptions() throws {
    func refusal(_ limits: ResourceLimits, maxImagePixels: Int = ImageLimits.defaultMaxPixels) -> String? {
        do {
            let m = try Model(path: defaultModel, options: ModelOptions(maxImagePixels: maxImagePixels, limits: limits))
            _ = try m.classify(path: sample)
            return nil
        } catch let e as ManakoError {
            return e.code == .limitExceeded ? e.message : "wrong code \(e.code): \(e.message)"
        } catch { return "\(error)" }
    }
    #expect(refusal(ResourceLimits(maxFileBytes: 1_000_000))?.contains("over the limit of 1000000 bytes") == true)
    #expect(refusal(ResourceLimits(maxTensorElements: 1_000_000))?.contains("maxTensorElements") == true)
    #expect(refusal(ResourceLimits(maxWeightBytes: 10_000_000))?.contains("maxWeightBytes") == true)
    #expect(refusal(ResourceLimits(maxNodes: 50))?.contains("111 nodes") == true)
    #expect(refusal(.defaults, maxImagePixels: 10_000)?.contains("exceeds the limit of 10000 pixels") == true)
    #expect(refusal(.defaults) == nil)
    #expect(throws: ManakoError.self) { try Model(path: defaultModel, options: ModelOptions(limits: ResourceLimits(maxNodes: 0))) }
}

@Test func theElementLimitHoldsAtRunTime() throws {
    // Loads (the 1x1 input's activations are small) but the first run computes a larger value.
    let expanding = try Model(path: HostileCase.folder + "/models/expand_huge.onnx",
                              options: ModelOptions(limits: ResourceLimits(maxTensorElements: 1000)))
    let zeros = Tensor(shape: [1, 3, 8, 8], floats: [Float](repeating: 0, count: 192))
    #expect { try expanding.run(["x": zeros]) } throws: { error in
        (error as? ManakoError)?.code == .limitExceeded && "\(error)".contains("limit of 1000")
    }
}

@Test func externalDataCannotLeaveTheModelFolderThroughASymlink() throws {
    let folder = NSTemporaryDirectory() + "manako-symlink-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let source = root + "/Tests/ManakoONNXTests/Models/small_external_data"
    try FileManager.default.copyItem(atPath: source + "/model.onnx", toPath: folder + "/model.onnx")
    // The weights file the model names is a link to a file outside its folder.
    let outside = NSTemporaryDirectory() + "manako-outside-\(getpid()).weights"
    try? FileManager.default.removeItem(atPath: outside)
    try FileManager.default.copyItem(atPath: source + "/model.weights", toPath: outside)
    defer { try? FileManager.default.removeItem(atPath: outside) }
    try FileManager.default.createSymbolicLink(atPath: folder + "/model.weights", withDestinationPath: outside)
    #expect { try Model(path: folder + "/model.onnx") } throws: { error in
        (error as? ManakoError)?.code == .invalidModel && "\(error)".contains("outside the model's folder")
    }
    // The same file inside the folder loads.
    try FileManager.default.removeItem(atPath: folder + "/model.weights")
    try FileManager.default.copyItem(atPath: outside, toPath: folder + "/model.weights")
    _ = try Model(path: folder + "/model.onnx")
}

@Test func specialFilesAreRefusedWithoutBlocking() throws {
    let fifo = NSTemporaryDirectory() + "manako-fifo-\(getpid())"
    #expect(mkfifo(fifo, 0o600) == 0)
    defer { unlink(fifo) }
    // Opening a FIFO for reading blocks until a writer comes: the load must not wait.
    #expect { try Model(path: fifo) } throws: { ($0 as? ManakoError)?.code == .io && "\($0)".contains("not a regular file") }
    #expect { try model.classify(path: fifo) } throws: { ($0 as? ManakoError)?.code == .io }
    #expect { try Model(path: root) } throws: { ($0 as? ManakoError)?.code == .io }
}

/// Inputs the fuzzers once crashed on (Tests/Malformed/fuzz/TARGET), replayed through the same
/// entry points as the fuzz targets: each must now load or fail with a Manako error.
@Test(arguments: ["onnx", "png", "jpeg", "npy", "metadata"])
func fuzzerFindingsStayFixed(_ target: String) throws {
    let folder = HostileCase.folder + "/fuzz/" + target
    let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    for file in files.sorted() {
        let bytes = try FileIO.read(folder + "/" + file)
        do {
            switch target {
            case "onnx":
                let limits = ResourceLimits(maxFileBytes: 16 << 20, maxTensorElements: 1 << 20, maxWeightBytes: 64 << 20, maxNodes: 10_000)
                let loaded = try Model(bytes: bytes, options: ModelOptions(threads: 1, limits: limits))
                if let feeds = loaded.zeroInputs(maxElements: 1 << 16) { _ = try loaded.run(feeds) }
            case "png": _ = try PNGDecoder.decode(bytes, maxPixels: 4 << 20)
            case "jpeg": _ = try JPEGDecoder.decode(bytes, maxPixels: 4 << 20)
            case "npy": _ = try NPY.read(bytes)
            default: _ = try Preprocessing.parse(String(decoding: bytes, as: UTF8.self))
            }
        } catch let e as ManakoError {
            #expect(e.code != .internal, "\(target)/\(file): \(e.message)")
        }
    }
}

@Test func eightThreadsSharingOneModelGetTheSequentialResults() throws {
    // Under ThreadSanitizer (scripts/sanitize) this is the race check for a shared model: its
    // buffer pools, its worker threads and the per-run element limit.
    let shared = try Model(path: defaultModel, options: ModelOptions(threads: 2))
    let images = [sample] + ["rgb.png", "gray.png", "palette.png", "jpeg_baseline_420.jpg", "jpeg_cmyk.jpg"]
        .map { root + "/Tests/ManakoImageTests/Fixtures/" + $0 }
    let expected = try images.map { try shared.classify(path: $0) }
    let results = Mutex<[[Prediction]?]>(Array(repeating: nil, count: 8 * images.count))
    DispatchQueue.concurrentPerform(iterations: 8) { t in
        for k in 0..<images.count {
            let i = (t + k) % images.count
            let top = try? shared.classify(path: images[i])
            results.withLock { $0[t * images.count + k] = top.map { $0 == expected[i] ? $0 : [] } }
        }
    }
    let all = results.withLock { $0 }
    #expect(all.allSatisfy { $0 != nil && $0 != [] }, "a thread failed or got a different answer")
}
