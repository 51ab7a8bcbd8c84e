import Foundation
import Manako
import Testing

/// The ONNX backend node tests shipped in the onnx 1.22.0 wheel: $MANAKO_ONNX_NODE_TESTS, or
/// found through the python3 that has onnx installed (scripts/install-deps installs it).
let nodeTestRoot: String? = {
    if let path = ProcessInfo.processInfo.environment["MANAKO_ONNX_NODE_TESTS"] { return path }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), 'backend/test/data/node'))"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    process.waitUntilExit()
    let path = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return process.terminationStatus == 0 && FileManager.default.fileExists(atPath: path) ? path : nil
}()

/// Tests/ManakoONNXTests/node-tests.txt: the allow-list (one test per line; # comments).
func allowedNodeTests() -> [String] {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("node-tests.txt").path
    let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").map { $0.split(separator: "#", omittingEmptySubsequences: false).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "" }
        .filter { !$0.isEmpty }
}

@Test func nodeTestDataIsAvailable() throws {
    let root = try #require(nodeTestRoot, "onnx 1.22.0 is not installed for python3 (pip install onnx==1.22.0)")
    #expect(FileManager.default.fileExists(atPath: root + "/test_relu/model.onnx"))
    #expect(allowedNodeTests().count >= 100)
}

/// Each allowed node test: inputs fed in graph-input order, outputs compared at
/// rtol 1e-3 / atol 1e-5 (the ONNX backend's rtol), integers and booleans exactly.
@Test(arguments: allowedNodeTests())
func onnxNodeTest(_ name: String) throws {
    let root = try #require(nodeTestRoot)
    let folder = root + "/" + name
    let model = try ONNXImporter.load(path: folder + "/model.onnx")
    let sets = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("test_data_set_") }.sorted()
    #expect(!sets.isEmpty)
    for set in sets {
        let dir = folder + "/" + set
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        func load(_ prefix: String) throws -> [Tensor] {
            try files.filter { $0.hasPrefix(prefix) }
                .sorted { Int($0.dropFirst(prefix.count).dropLast(3))! < Int($1.dropFirst(prefix.count).dropLast(3))! }
                .map { try ONNXImporter.decodeTensor(bytes: try FileIO.read(dir + "/" + $0)).tensor }
        }
        let inputs = try load("input_"), expected = try load("output_")
        var feeds: [String: Tensor] = [:]
        for (info, tensor) in zip(model.graph.inputs, inputs) { feeds[info.name] = tensor }
        let outputs = try model.graph.run(feeds)
        for (info, e) in zip(model.graph.outputs, expected) {
            let actual = try #require(outputs[info.name])
            try expectClose(actual, e, rtol: 1e-3, atol: 1e-5, "\(name)/\(set)/\(info.name)")
        }
    }
}
