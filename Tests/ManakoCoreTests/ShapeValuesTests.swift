import ManakoCore
import Testing

/// Values computed from shapes alone are kept between runs: y = x / sqrt(columns) reshaped to
/// [rows, -1, 1] through Shape, Gather, Cast, Sqrt, Unsqueeze and Concat nodes, and
/// z = x + ConstantOfShape(shape, 1). A run of the same shape reuses them (the profile says so);
/// a new shape computes them again; every run's numbers are the hand-worked ones, whatever
/// order the shapes come in, and the kept float values (the square root, the ones) are never
/// written over by buffers the pool hands out.
@Test func shapeValuesAreKeptWhileTheShapesStay() throws {
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.symbolic("n"), .symbolic("c")])
    let outputs = ["y", "z"].map { ValueInfo(name: $0, elementType: .float32, shape: nil) }
    let constants: [String: Tensor] = [
        "first": Tensor(shape: [], int64s: [0]), "second": Tensor(shape: [], int64s: [1]),
        "rest": Tensor(shape: [2], int64s: [-1, 1]),
    ]
    func node(_ name: String, _ op: any Operator, _ inputs: [String]) -> NodeSpec {
        NodeSpec(name: name, opType: String(describing: type(of: op)), op: op, inputs: inputs, outputs: [name])
    }
    let derived = ["s", "n", "c", "cf", "root", "nu", "target", "ones"]
    let graph = try Graph(inputs: [input], outputs: outputs, constants: constants, nodes: [
        node("s", ShapeOf(), ["x"]), node("n", Gather(), ["s", "first"]), node("c", Gather(), ["s", "second"]),
        node("cf", Cast(to: .float32), ["c"]), node("root", Sqrt(), ["cf"]), node("scaled", Div(), ["x", "root"]),
        node("nu", Unsqueeze(axes: [0]), ["n"]), node("target", Concat(axis: 0), ["nu", "rest"]),
        node("y", Reshape(), ["scaled", "target"]),
        node("ones", ConstantOfShape(value: Tensor(shape: [1], floats: [1])), ["s"]), node("z", Add(), ["x", "ones"]),
    ])
    var previous: [Int]?
    for (run, shape) in [[2, 4], [2, 4], [3, 9], [3, 9], [2, 4], [3, 9], [3, 9]].enumerated() {
        let count = shape[0] * shape[1]
        let values = (0..<count).map { Float($0 * 7 % 11) - Float(run) }
        var timings: [NodeTiming] = []
        let out = try graph.run(["x": t(shape, values)], profile: &timings)
        let root = Float(shape[1]).squareRoot()
        #expect(out["y"]!.shape == shape + [1])
        #expect(try out["y"]!.floats() == values.map { $0 / root })
        #expect(out["z"]!.shape == shape)
        #expect(try out["z"]!.floats() == values.map { $0 + 1 })
        let kept = Set(timings.filter { $0.plan == "kept from the last run" }.map(\.name))
        #expect(kept == (shape == previous ? Set(derived) : []), "run \(run), shape \(shape)")
        previous = shape
    }
}
