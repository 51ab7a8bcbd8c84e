import Foundation
import Manako
import Testing

/// Folders of Tests/ManakoONNXTests/<kind>, made by scripts/make-fixtures.py.
func fixtureFolders(_ kind: String) -> [String] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(kind).path
    let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    return names.sorted().map { root + "/" + $0 }
}

/// Inputs and expected outputs of a fixture folder, keyed by tensor name (file input_<i>_<name>.npy).
func tensors(in folder: String, prefix: String) throws -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file.hasPrefix(prefix) && file.hasSuffix(".npy") {
        let name = String(file.dropFirst(prefix.count).drop { $0 != "_" }.dropFirst().dropLast(4))
        result[name] = try NPY.read(try FileIO.read(folder + "/" + file), name: file)
    }
    return result
}

/// Compares within |a - b| <= atol + rtol * |b|, exactly for integers and booleans.
func expectClose(_ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-4, atol: Float = 1e-4, _ what: String) throws {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) != \(expected.shape)")
    guard actual.shape == expected.shape else { return }
    switch expected.storage {
    case .float32(let e):
        let a = try actual.floats()
        var worst: Float = 0
        for i in 0..<e.count { worst = max(worst, abs(a[i] - e[i]) - rtol * abs(e[i])) }
        #expect(worst <= atol, "\(what): max excess difference \(worst)")
    case .int64, .int32:
        #expect(try actual.int64s() == expected.int64s(), "\(what)")
    case .bool(let e):
        if case .bool(let a) = actual.storage { #expect(a == e, "\(what)") } else { Issue.record("\(what): not bool") }
    }
}

/// Runs a fixture folder's model on its inputs and compares with the saved outputs.
func checkFixture(_ folder: String) throws {
    let model = try ONNXImporter.load(path: folder + "/model.onnx")
    let inputs = try tensors(in: folder, prefix: "input_")
    let expected = try tensors(in: folder, prefix: "output_")
    #expect(!expected.isEmpty)
    let outputs = try model.graph.run(inputs)
    for (name, e) in expected {
        let actual = try #require(outputs[name], "missing output \(name)")
        try expectClose(actual, e, "\(folder.split(separator: "/").last!)/\(name)")
    }
}

/// One case per operator variant, checked against ONNX Runtime (and onnx.reference).
@Test(arguments: fixtureFolders("Fixtures"))
func operatorMatchesOnnxRuntime(_ folder: String) throws {
    try checkFixture(folder)
}

@Test func fixturesArePresent() {
    #expect(fixtureFolders("Fixtures").count >= 45)
    #expect(fixtureFolders("Models").count >= 7)
}

/// Whole small networks: initializer encodings, external data, IR 3 initializers-as-inputs,
/// nodes out of order and a symbolic batch dimension.
@Test(arguments: fixtureFolders("Models").filter { !$0.hasSuffix("unsupported") && !$0.hasSuffix("bad_shapes") })
func modelMatchesOnnxRuntime(_ folder: String) throws {
    try checkFixture(folder)
}

/// Tests/ManakoONNXTests/Architectures/<family>/<form>.onnx with input.npy and ONNX Runtime's
/// logits <form>.npy (scripts/export-architectures.py): every family in every export form.
func architectureCases() -> [String] {
    fixtureFolders("Architectures").flatMap { folder in
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".onnx") }.sorted()
            .map { folder + "/" + $0 }
    }
}

@Test(arguments: architectureCases())
func architectureMatchesOnnxRuntime(_ modelPath: String) throws {
    let folder = FileManager.default.currentDirectoryPath.isEmpty ? "" : String(modelPath[..<modelPath.lastIndex(of: "/")!])
    let name = String(modelPath.split(separator: "/").suffix(2).joined(separator: "/"))
    let model = try ONNXImporter.load(path: modelPath)
    let input = try NPY.read(try FileIO.read(folder + "/input.npy"))
    let expected = try NPY.read(try FileIO.read(String(modelPath.dropLast(5)) + ".npy"))
    let logits = try #require(model.graph.run([model.graph.inputs[0].name: input])[model.graph.outputs[0].name])
    try expectClose(logits, expected, rtol: 1e-4, atol: 1e-4, name)
    // Work is split across threads without changing any sum: bit-identical with 3 threads.
    let threaded = try Parallel.withThreads(3) { try model.graph.run([model.graph.inputs[0].name: input])[model.graph.outputs[0].name] }
    #expect(threaded == logits, "\(name): 3 threads changed the result")
    // Identical top-5 per image.
    let classes = expected.shape.last!
    let (a, e) = (try logits.floats(), try expected.floats())
    for image in 0..<(e.count / classes) {
        let range = (image * classes)..<((image + 1) * classes)
        #expect(Classification.top(Array(a[range]), k: 5) == Classification.top(Array(e[range]), k: 5), "\(name) image \(image)")
    }
}

@Test func everyFamilyHasFixtures() {
    let families = Set(fixtureFolders("Architectures").map { $0.split(separator: "/").last.map(String.init)! })
    for family in ["alexnet", "vgg", "vgg_bn", "resnet_basic", "resnet_bottleneck", "resnext", "wide_resnet", "squeezenet1_0",
                   "squeezenet1_1", "densenet", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet",
                   "regnet", "convnext", "vit", "swin"] {
        #expect(families.contains(family), "missing fixtures for \(family)")
    }
}
