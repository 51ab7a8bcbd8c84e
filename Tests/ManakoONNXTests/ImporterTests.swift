import Foundation
import Manako
import Testing

let modelsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Models").path

@Test func unsupportedOperatorsAreAllReportedWithNodeAndOpset() throws {
    let path = modelsFolder + "/unsupported/model.onnx"
    do {
        _ = try ONNXImporter.load(path: path)
        Issue.record("load succeeded")
    } catch let e as ManakoError {
        #expect(e.code == .unsupportedOperator)
        #expect(e.message.contains("3 unsupported operator(s)"))
        #expect(e.message.contains("Sin (node 'trig', opset 15)"))
        #expect(e.message.contains("Cos (node 'trig2', opset 15)"))
        #expect(e.message.contains("com.example.Foo (node 'custom', opset 1)"))
    }
    let summary = try ONNXImporter.inspect(bytes: try FileIO.read(path))
    #expect(summary.unsupported.map(\.opType) == ["Sin", "Foo", "Cos"])
}

@Test func summaryDescribesTheModel() throws {
    let summary = try ONNXImporter.inspect(bytes: try FileIO.read(modelsFolder + "/small_raw/model.onnx"))
    #expect(summary.opsets[""] == 13)
    #expect(summary.producer == "manako-fixtures")
    #expect(summary.metadata.map(\.key) == ["author"] && summary.metadata.first?.value == "make-fixtures")
    #expect(summary.inputs == [ValueInfo(name: "x", elementType: .float32, shape: [.symbolic("batch"), .fixed(3), .fixed(8), .fixed(8)])])
    // 4*3*3*3 + 4 + 4*4*3*3 + 4 + 5*4 + 5 weights.
    #expect(summary.parameterCount == 108 + 4 + 144 + 4 + 20 + 5)
    #expect(summary.operatorHistogram.first! == ("Conv", 2))
}

@Test func initializersListedAsInputsAreNotGraphInputs() throws {
    let model = try ONNXImporter.load(path: modelsFolder + "/small_listed_as_inputs/model.onnx")
    #expect(model.graph.inputs.map(\.name) == ["x"])
}

@Test func externalDataIsReadRelativeToTheModelAndRefusedFromMemory() throws {
    let path = modelsFolder + "/small_external_data/model.onnx"
    // Six initializers are read; the two convolution weights then live on only in packed form.
    let graph = try ONNXImporter.load(path: path).graph
    #expect(graph.constants.count == 4 && graph.nodeSummaries.filter { $0.opType == "Conv" }.count == 2)
    #expect(throws: ManakoError.self) { try ONNXImporter.load(bytes: try FileIO.read(path)) }
}

@Test func externalDataCannotLeaveTheModelFolder() throws {
    // Rewrite the location "model.weights" to "../../model.weights" (same length not needed: rebuild).
    let original = try FileIO.read(modelsFolder + "/small_external_data/model.onnx")
    let from = Array("model.weights".utf8)
    let to = Array("../x/weights1".utf8)  // same length keeps every protobuf length valid
    var patched = original
    var i = 0
    while i + from.count <= patched.count {
        if Array(patched[i..<(i + from.count)]) == from { patched.replaceSubrange(i..<(i + from.count), with: to) }
        i += 1
    }
    let folder = NSTemporaryDirectory() + "manako-escape-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try FileIO.write(patched, to: folder + "/model.onnx")
    do {
        _ = try ONNXImporter.load(path: folder + "/model.onnx")
        Issue.record("escaping path accepted")
    } catch let e as ManakoError {
        #expect(e.message.contains("leaves the model's folder"))
    }
}

@Test func truncatedAndCorruptFilesGiveErrorsNotCrashes() throws {
    let bytes = try FileIO.read(modelsFolder + "/small_raw/model.onnx")
    for cut in [1, 2, 10, 100, bytes.count / 2, bytes.count - 1] {
        #expect(throws: ManakoError.self) { try ONNXImporter.load(bytes: Array(bytes.prefix(cut))) }
    }
    #expect(throws: ManakoError.self) { try ONNXImporter.load(bytes: []) }
    #expect(throws: ManakoError.self) { try ONNXImporter.load(bytes: Array("hello world, not protobuf".utf8)) }
    // Flip bytes one at a time: each load either succeeds or throws, never traps.
    for position in stride(from: 0, to: bytes.count, by: 97) {
        var damaged = bytes
        damaged[position] ^= 0xFF
        _ = try? ONNXImporter.load(bytes: damaged)
    }
}

@Test func shapeContradictionsFailTheLoadNamingTheNode() throws {
    do {
        _ = try ONNXImporter.load(path: modelsFolder + "/bad_shapes/model.onnx")
        Issue.record("a 4-channel filter on a 3-channel input loaded")
    } catch let e as ManakoError {
        #expect(e.code == .shapeMismatch)
        #expect(e.message.contains("node 'mismatched_conv' (Conv)"))
        #expect(e.message.contains("3 channels"))
    }
}

@Test func inferredShapesFollowTheGraph() throws {
    let graph = try ONNXImporter.load(path: modelsFolder + "/small_raw/model.onnx").graph
    let shapes = try graph.inferShapes()
    #expect(shapes["r1"] == [nil, 4, 8, 8])  // conv1 with its Relu fused; the symbolic batch stays unknown
    #expect(shapes["p1"] == [nil, 4, 4, 4])
    #expect(shapes["prob"] == [nil, 5])
}
