import Foundation
import Manako
import Testing

/// The default model and every architecture fixture (scripts/export-architectures.py): its
/// ONNX file, input.npy and ONNX Runtime's logits beside it.
func arenaCases() -> [String] {
    let folder = root + "/Tests/ManakoONNXTests/Architectures"
    let families = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    return [defaultModel] + families.flatMap { family in
        ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + family)) ?? [])
            .filter { $0.hasSuffix(".onnx") }.sorted().map { folder + "/" + family + "/" + $0 }
    }
}

/// A load sizes the activation arena for the declared input shapes (symbolic batch as 1) with a
/// dry run, so the first run of that shape allocates nothing from the pool: no node's output and
/// no kernel's scratch (reserved by the dry run from the kernels' own split logic); the dry run
/// computes nothing, so that first run still gives ONNX Runtime's logits (image 0 of the
/// fixture's batch, or the whole batch where it is fixed).
@Test(arguments: arenaCases(), [1, 2])
func firstRunAllocatesNoActivationBuffer(_ path: String, threads: Int) throws {
    let model = try Model(path: path, options: ModelOptions(threads: threads))
    let name = path.split(separator: "/").suffix(2).joined(separator: "/") + ", \(threads) thread(s)"
    #expect(model.graph.pooledElements > 0, "\(name): the load left the arena empty")
    let input: Tensor, expected: [Float]
    if path == defaultModel {
        let pixels = try NPY.read(try FileIO.read(fixtures + "/chelsea_pil_224.npy")).int64s()
        var x = [Float](repeating: 0, count: 3 * 224 * 224)
        for i in 0..<(224 * 224) { for c in 0..<3 { x[c * 224 * 224 + i] = (Float(pixels[i * 3 + c]) - 127) / 128 } }
        input = Tensor(shape: [1, 3, 224, 224], floats: x)
        expected = try NPY.read(try FileIO.read(fixtures + "/chelsea_logits_ort.npy")).floats()
    } else {
        let folder = String(path[..<path.lastIndex(of: "/")!])
        let batch = try NPY.read(try FileIO.read(folder + "/input.npy"))
        var images = 1
        if case .fixed(let n)? = model.inputs[0].shape?.first { images = n }
        input = Tensor(shape: [images] + batch.shape.dropFirst(), floats: Array(try batch.floats().prefix(images * batch.shape.dropFirst().reduce(1, *))))
        let logits = try NPY.read(try FileIO.read(String(path.dropLast(5)) + ".npy"))
        expected = Array(try logits.floats().prefix(images * logits.shape.dropFirst().reduce(1, *)))
    }
    let output = try model.run(input).floats()
    let first = model.graph.allocationsLastRun
    #expect(first == BufferPool.Allocations(), "\(name): the first run allocated \(first.outputs) outputs and \(first.scratch) scratch buffers")
    #expect(output.count == expected.count)
    let worst = zip(output, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
    #expect(worst <= 1e-4, "\(name): max relative difference from ONNX Runtime \(worst)")
    _ = try model.run(input)
    #expect(model.graph.allocationsLastRun == BufferPool.Allocations(), "\(name): the second run allocated \(model.graph.allocationsLastRun)")
}
