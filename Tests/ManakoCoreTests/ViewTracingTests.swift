import ManakoCore
import Testing

/// A Shape of a Transpose, Squeeze, Gather or Split chain reads the viewed value's shape
/// through the chain: the viewing nodes are removed when nothing else reads them, the shapes
/// are those the plain graph computes, and a view that does not fit is still an error.
@Test func shapesAreReadThroughViews() throws {
    let constants: [String: Tensor] = ["axis 1": Tensor(shape: [1], int64s: [1]), "two": Tensor(shape: [], int64s: [2]),
                                       "sizes": Tensor(shape: [2], int64s: [1, 4])]
    func node(_ name: String, _ op: any Operator, _ inputs: [String], _ outputs: [String]? = nil) -> NodeSpec {
        NodeSpec(name: name, opType: String(describing: type(of: op)), op: op, inputs: inputs, outputs: outputs ?? [name])
    }
    let nodes = [
        node("t", Transpose(permutation: [3, 1, 0, 2]), ["x"]), node("t shape", ShapeOf(), ["t"]),
        node("sq", Squeeze(), ["t", "axis 1"]), node("g", Gather(axis: 0), ["sq", "two"]), node("g shape", ShapeOf(), ["g"]),
        node("split", Split(axis: 0, outputCount: 2), ["g", "sizes"], ["a", "b"]), node("b shape", ShapeOf(start: -1), ["b"]),
    ]
    let outputs = ["t shape", "g shape", "b shape"].map { ValueInfo(name: $0, elementType: .int64, shape: nil) }
    var kept = constants, report = GraphOptimizer.Report()
    let rewritten = GraphOptimizer.readThroughViews(nodes, constants: &kept, outputs: outputs, report: &report)
    #expect(report.shapesReadThroughViews == 3)
    #expect(rewritten.count == 3 && rewritten.allSatisfy { $0.op is ShapeOf && $0.inputs == ["x"] })
    let input = [ValueInfo(name: "x", elementType: .float32, shape: nil)]
    let x = Tensor(shape: [5, 1, 2, 3], floats: [Float](repeating: 1, count: 30))
    let plain = try Graph(inputs: input, outputs: outputs, constants: constants, nodes: nodes).run(["x": x])
    let read = try Graph(inputs: input, outputs: outputs, constants: kept, nodes: rewritten).run(["x": x])
    for name in ["t shape", "g shape", "b shape"] { #expect(try read[name]!.int64s() == plain[name]!.int64s(), "\(name)") }
    #expect(try read["t shape"]!.int64s() == [3, 1, 5, 2] && read["b shape"]!.int64s() == [2])
    // Squeezing an axis of 2 fails in both graphs.
    let wide = Tensor(shape: [5, 2, 2, 3], floats: [Float](repeating: 1, count: 60))
    #expect(throws: ManakoError.self) { try Graph(inputs: input, outputs: outputs, constants: constants, nodes: nodes).run(["x": wide]) }
    #expect(throws: ManakoError.self) { try Graph(inputs: input, outputs: outputs, constants: kept, nodes: rewritten).run(["x": wide]) }
}
