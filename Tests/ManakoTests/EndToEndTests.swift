import Foundation
import Manako
import Testing

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let fixtures = root + "/Tests/ManakoTests/Fixtures"
let defaultModel = root + "/Resources/efficientnet-lite0.onnx"
let sample = root + "/Resources/chelsea.png"

/// One shared model: loading takes a moment and models are immutable.
let model: Model = try! Model(path: defaultModel)

@Test func defaultModelPutsACatFirstWithTheReferenceFigures() throws {
    let top = try model.classify(path: sample)
    #expect((281...285).contains(top[0].index))
    // ONNX Runtime with Pillow preprocessing (../shared/README.md): 38.5, 36.3, 16.7, 1.7, 0.1 %.
    #expect(top.map(\.index) == [282, 285, 281, 287, 904])
    #expect(top.map { ($0.probability * 1000).rounded() / 10 } == [38.5, 36.3, 16.7, 1.7, 0.1])
    #expect(top[0].label == "tiger cat")
}

@Test func preprocessingEqualsPillowExactly() throws {
    let pixels = try NPY.read(try FileIO.read(fixtures + "/chelsea_pil_224.npy"))
    let image = try model.decode(encoded: try FileIO.read(sample))
    let ours = try model.preprocessing.geometricallyTransformed(image)
    #expect(ours.pixels.map(Int64.init) == (try pixels.int64s()))
}

@Test func logitsMatchOnnxRuntime() throws {
    let pixels = try NPY.read(try FileIO.read(fixtures + "/chelsea_pil_224.npy")).int64s()
    var x = [Float](repeating: 0, count: 3 * 224 * 224)
    for i in 0..<(224 * 224) { for c in 0..<3 { x[c * 224 * 224 + i] = (Float(pixels[i * 3 + c]) - 127) / 128 } }
    let logits = try model.run(Tensor(shape: [1, 3, 224, 224], floats: x)).floats()
    let expected = try NPY.read(try FileIO.read(fixtures + "/chelsea_logits_ort.npy")).floats()
    let worst = zip(logits, expected).map { abs($0 - $1) }.max()!
    #expect(logits.count == 1000)
    #expect(worst <= 1e-4, "max |Manako - ONNX Runtime| = \(worst)")
}

@Test func modelMetadataCarriesLabelsAndPreset() throws {
    #expect(model.labels?.count == 1000)
    #expect(model.preprocessing == Preprocessing.efficientNetLite)
    #expect(model.summary.metadata.contains { $0.key == MetadataKey.preset && $0.value == "efficientnet-lite" })
}

/// The same answer from a path (whose file bytes the load returns to the system as it decodes
/// them) and from memory, where the caller's array must come back untouched.
@Test func loadingFromMemoryGivesTheSameAnswer() throws {
    let bytes = try FileIO.read(defaultModel)
    let copy = bytes.withUnsafeBufferPointer { [UInt8]($0) }  // separate storage
    let fromBytes = try Model(bytes: bytes)
    let unchanged = bytes == copy  // (not inside #expect, which would print both 18 MB arrays)
    #expect(unchanged, "loading from memory changed the caller's bytes")
    #expect(try fromBytes.classify(path: sample, topK: 3) == model.classify(path: sample, topK: 3))
}

@Test func optionsOverrideLabelsAndPreset() throws {
    let folder = NSTemporaryDirectory() + "manako-labels-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try FileIO.write(Array((0..<1000).map { "c\($0)" }.joined(separator: "\n").utf8), to: folder + "/labels.txt")
    let custom = try Model(path: defaultModel, options: ModelOptions(labelsPath: folder + "/labels.txt", preset: "torchvision"))
    let top = try custom.classify(path: sample, topK: 1)[0]
    #expect(top.label == "c\(top.index)")
    #expect((281...285).contains(top.index))  // the ImageNet pipeline also finds the cat
    #expect(throws: ManakoError.self) { try Model(path: defaultModel, options: ModelOptions(preset: "no-such-preset")) }
}

@Test func metadataWriterReplacesEntriesAndKeepsTheModel() throws {
    let bytes = try FileIO.read(defaultModel)
    let rewritten = try MetadataWriter.setting([(MetadataKey.preset, "torchvision"), ("extra", "1")], in: bytes)
    let summary = try ONNXImporter.inspect(bytes: rewritten)
    #expect(summary.metadata.filter { $0.key == MetadataKey.preset }.map(\.value) == ["torchvision"])
    #expect(summary.metadata.contains { $0.key == "extra" })
    #expect(summary.metadata.contains { $0.key == MetadataKey.labels })
    #expect(summary.parameterCount == model.summary.parameterCount)
}

@Test func npyRoundTripsEveryType() throws {
    let tensors = [Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, -6.5]), Tensor(shape: [3], int64s: [1, -2, 1 << 40]),
                   Tensor(shape: [], floats: [7]), Tensor(shape: [2], bools: [true, false]), Tensor(shape: [0, 4], floats: [])]
    for t in tensors { #expect(try NPY.read(NPY.write(t)) == t) }
    #expect(throws: ManakoError.self) { try NPY.read(Array("garbage".utf8)) }
    #expect(throws: ManakoError.self) { try NPY.read(Array(NPY.write(tensors[0]).dropLast(3))) }
}

@Test func probabilitiesAreNotSoftmaxedTwice() {
    #expect(Classification.probabilities([0.25, 0.75]) == [0.25, 0.75])
    let p = Classification.probabilities([0, 0])
    #expect(p == [0.5, 0.5])
    #expect(Classification.top([0.1, 0.5, 0.5, 0.2], k: 3) == [1, 2, 3])
}
