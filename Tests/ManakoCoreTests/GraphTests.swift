import ManakoCore
import Testing

let x = ValueInfo(name: "x", elementType: .float32, shape: [.symbolic("n"), .fixed(2)])
let y = ValueInfo(name: "y", elementType: .float32, shape: nil)

func node(_ name: String, _ inputs: [String], _ outputs: [String]) -> NodeSpec {
    NodeSpec(name: name, opType: "Relu", op: Relu(), inputs: inputs, outputs: outputs)
}

@Test func nodesRunInDependencyOrderWhateverTheFileOrder() throws {
    let graph = try Graph(inputs: [x], outputs: [y], constants: [:],
                          nodes: [node("second", ["a"], ["y"]), node("first", ["x"], ["a"])])
    #expect(graph.nodeSummaries.map(\.name) == ["first", "second"])
    let out = try graph.run(["x": t([1, 2], [-1, 2])])
    #expect(try out["y"]!.floats() == [0, 2])
}

@Test func malformedGraphsAreRefusedWithTheNodeNamed() {
    func message(_ nodes: [NodeSpec], outputs: [ValueInfo] = [y]) -> String {
        do {
            _ = try Graph(inputs: [x], outputs: outputs, constants: [:], nodes: nodes)
            return "accepted"
        } catch let e as ManakoError { return e.message } catch { return "\(error)" }
    }
    #expect(message([node("a", ["b_out"], ["a_out"]), node("b", ["a_out"], ["b_out"]), node("c", ["x"], ["y"])]).contains("cycle"))
    #expect(message([node("lonely", ["nowhere"], ["y"])]).contains("'lonely'"))
    #expect(message([node("one", ["x"], ["y"]), node("two", ["x"], ["y"])]).contains("'two'"))
    #expect(message([node("one", ["x"], ["z"])]).contains("graph output 'y'"))
    #expect(message([node("overwrites", ["x"], ["x"])]).contains("'overwrites'"))
}

@Test func inputsAreCheckedAgainstTheirDeclaration() throws {
    let graph = try Graph(inputs: [x], outputs: [y], constants: [:], nodes: [node("r", ["x"], ["y"])])
    #expect(throws: ManakoError.self) { try graph.run([:]) }
    #expect(throws: ManakoError.self) { try graph.run(["x": t([1, 3], [1, 2, 3])]) }
    #expect(throws: ManakoError.self) { try graph.run(["x": Tensor(shape: [1, 2], int64s: [1, 2])]) }
    #expect(throws: ManakoError.self) { try graph.run(["x": t([1, 2], [1, 2]), "other": t([1], [1])]) }
    // The symbolic dimension takes any size.
    #expect(try graph.run(["x": t([3, 2], [1, 2, 3, 4, 5, 6])])["y"]!.shape == [3, 2])
}

@Test func nodeErrorsNameTheNode() throws {
    let graph = try Graph(inputs: [ValueInfo(name: "x", elementType: .float32, shape: nil)], outputs: [y], constants: [:],
                          nodes: [NodeSpec(name: "fc", opType: "Gemm", op: Gemm(), inputs: ["x", "x"], outputs: ["y"])])
    do {
        _ = try graph.run(["x": t([2, 3], Array(repeating: 1, count: 6))])
        Issue.record("ran")
    } catch let e as ManakoError {
        #expect(e.message.hasPrefix("node 'fc' (Gemm):"))
    }
}

@Test func tensorsValidateTheirShape() {
    #expect(throws: ManakoError.self) { try Tensor(shape: [2, 2], storage: .float32([1, 2, 3])) }
    #expect(throws: ManakoError.self) { try Tensor(shape: [-1], storage: .float32([])) }
    #expect(Tensor.elementCount([Int.max, 2]) == nil)
}

/// Recycled buffers never alias a live value: 'a' is released after Flatten, whose output (a
/// graph output) shares a's storage; Neg then asks for a buffer of the same size. Runs repeat
/// with the same results, and the pool keeps buffers between them.
@Test func recycledBuffersNeverAliasLiveValues() throws {
    let b = ValueInfo(name: "b", elementType: .float32, shape: nil), c = ValueInfo(name: "c", elementType: .float32, shape: nil)
    let graph = try Graph(inputs: [x], outputs: [b, c], constants: [:], nodes: [
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["x"], outputs: ["a"]),
        NodeSpec(name: "flatten", opType: "Flatten", op: Flatten(), inputs: ["a"], outputs: ["b"]),
        NodeSpec(name: "negate", opType: "Neg", op: Neg(), inputs: ["x"], outputs: ["c"]),
    ])
    let input = t([2, 2], [-1, 2, 3, -4])
    for _ in 0..<3 {
        let out = try graph.run(["x": input])
        #expect(try out["b"]!.floats() == [0, 2, 3, 0])
        #expect(try out["c"]!.floats() == [1, -2, -3, 4])
    }
}

/// The blocked kernels' outputs sit on 64-byte lines, and their pooled buffers never alias a
/// live value either: 'a' (blocked, aligned) is released after Flatten, whose output (a graph
/// output) shares its memory; the second reorder then asks for a buffer of the same size. An
/// aligned buffer is written through a pointer, with no copy-on-write, so the pool must see
/// that Flatten's output still holds it.
@Test func alignedBuffersAreAlignedAndNeverAliasLiveValues() throws {
    let image = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(8), .fixed(2), .fixed(2)])
    let b = ValueInfo(name: "b", elementType: .float32, shape: nil), c = ValueInfo(name: "c", elementType: .float32, shape: nil)
    let graph = try Graph(inputs: [image], outputs: [b, c], constants: [:], nodes: [
        NodeSpec(name: "block", opType: "ChannelReorder", op: ChannelReorder(toBlocked: true), inputs: ["x"], outputs: ["a"]),
        NodeSpec(name: "flatten", opType: "Flatten", op: Flatten(), inputs: ["a"], outputs: ["b"]),
        NodeSpec(name: "negate", opType: "Neg", op: Neg(), inputs: ["x"], outputs: ["n"]),
        NodeSpec(name: "block again", opType: "ChannelReorder", op: ChannelReorder(toBlocked: true), inputs: ["n"], outputs: ["c"]),
    ])
    let values = pseudoRandom(32, seed: 17)
    let blocked = blockedByDefinition(values, batch: 1, channels: 8, spatial: 4)
    for _ in 0..<3 {
        let out = try graph.run(["x": t([1, 8, 2, 2], values)])
        #expect(try out["b"]!.floats() == blocked)
        #expect(try out["c"]!.floats() == blocked.map { -$0 })
        for name in ["b", "c"] {
            guard case .aligned(let floats) = try out[name]!.floatValues() else {
                Issue.record("\(name) is not in aligned memory")
                continue
            }
            floats.withUnsafeBufferPointer { #expect(Int(bitPattern: $0.baseAddress) % 64 == 0, "\(name) is not 64-byte aligned") }
        }
        // Equality looks at the elements, wherever they live.
        #expect(out["c"]! == t([1, 8, 2, 2], blocked.map { -$0 }))
    }
}

/// The pool settles: operators that allocate outside it (Add) release buffers into it every
/// run, but it keeps at most a few per size, so what it holds stops growing.
@Test func bufferPoolStopsGrowing() throws {
    var specs: [NodeSpec] = []
    var previous = "x"
    for i in 0..<12 {
        specs.append(NodeSpec(name: "add\(i)", opType: "Add", op: Add(), inputs: [previous, "x"], outputs: ["s\(i)"]))
        specs.append(NodeSpec(name: "relu\(i)", opType: "Relu", op: Relu(), inputs: ["s\(i)"], outputs: ["r\(i)"]))
        previous = "r\(i)"
    }
    specs.append(NodeSpec(name: "last", opType: "Relu", op: Relu(), inputs: [previous], outputs: ["y"]))
    let graph = try Graph(inputs: [x], outputs: [y], constants: [:], nodes: specs)
    let input = t([64, 2], pseudoRandom(128, seed: 9))
    var held: [Int] = []
    for _ in 0..<6 {
        _ = try graph.run(["x": input])
        held.append(graph.pooledElements)
    }
    #expect(held[5] == held[2], "pool grew across runs: \(held)")
    #expect(held[5] <= 8 * 128, "pool holds \(held[5]) floats")
}

/// A size keeps as many buffers as a run had out of the pool at once, not just four: seven
/// same-size values alive together (a dense block's layer outputs before their Concat) come
/// from the pool on every run after the first: a run allocates only the graph's output, which
/// its caller keeps (with four kept per size, three of the seven were allocated every run).
@Test func bufferPoolKeepsWhatARunHadOutAtOnce() throws {
    let branches = (0..<7).map { NodeSpec(name: "relu\($0)", opType: "Relu", op: Relu(), inputs: ["x"], outputs: ["r\($0)"]) }
    let graph = try Graph(inputs: [x], outputs: [y], constants: [:], nodes: branches + [
        NodeSpec(name: "concat", opType: "Concat", op: Concat(axis: 0), inputs: (0..<7).map { "r\($0)" }, outputs: ["y"]),
    ])
    let input = t([64, 2], pseudoRandom(128, seed: 5))
    _ = try graph.run(["x": input])
    #expect(graph.allocationsLastRun.outputs >= 7, "the first run drew \(graph.allocationsLastRun) from an empty pool")
    for _ in 0..<3 {
        let out = try graph.run(["x": input])["y"]!.floats()
        #expect(graph.allocationsLastRun.outputs == 1 && graph.allocationsLastRun.scratch == 0,
                "a later run allocated \(graph.allocationsLastRun)")
        #expect(out == Array(repeating: (try input.floats()).map { max($0, 0) }, count: 7).flatMap { $0 })
    }
}

/// The pool forgets sizes it has not used for a while: after runs on 12 input sizes, runs on
/// one size bring what it holds back down to that size's buffers.
@Test func bufferPoolDropsSizesNoLongerUsed() throws {
    let anySize = ValueInfo(name: "x", elementType: .float32, shape: nil)
    let graph = try Graph(inputs: [anySize], outputs: [y], constants: [:], nodes: [
        NodeSpec(name: "relu", opType: "Relu", op: Relu(), inputs: ["x"], outputs: ["a"]),
        NodeSpec(name: "negate", opType: "Neg", op: Neg(), inputs: ["a"], outputs: ["y"]),
    ])
    for rows in 1...12 { _ = try graph.run(["x": t([rows, 64], pseudoRandom(rows * 64, seed: UInt64(rows)))]) }
    let afterManySizes = graph.pooledElements
    let steady = t([3, 64], pseudoRandom(192, seed: 3))
    for _ in 0...BufferPool.idleRunsBeforeTrim { _ = try graph.run(["x": steady]) }
    #expect(afterManySizes >= 12 * 64, "the pool kept \(afterManySizes) floats after 12 sizes")
    #expect(graph.pooledElements <= 4 * 192, "the pool still holds \(graph.pooledElements) floats")
    #expect(try graph.run(["x": steady])["y"]!.floats() == steady.floats().map { -max($0, 0) })
}

/// On one thread the pool lends a free aligned buffer of up to twice a request's size: a chain
/// of blocked 2x2 max pools at stride 1 (each output a little smaller than its input) runs in a
/// few shared buffers instead of one per size, with the same result as on two threads, where
/// every size keeps buffers of its own.
@Test func bufferPoolSharesAlignedBuffersAcrossSizesOnOneThread() throws {
    let steps = 8, side = 48, channels = 16
    var specs = [NodeSpec(name: "in", opType: "Reorder", op: ChannelReorder(toBlocked: true), inputs: ["x"], outputs: ["b0"])]
    for i in 0..<steps {
        specs.append(NodeSpec(name: "pool\(i)", opType: "MaxPool", op: BlockedPool(MaxPool(kernelShape: [2, 2], strides: [1, 1])),
                              inputs: ["b\(i)"], outputs: ["b\(i + 1)"]))
    }
    specs.append(NodeSpec(name: "out", opType: "Reorder", op: ChannelReorder(toBlocked: false), inputs: ["b\(steps)"], outputs: ["y"]))
    let input = ValueInfo(name: "x", elementType: .float32, shape: [.fixed(1), .fixed(channels), .fixed(side), .fixed(side)])
    let values = pseudoRandom(channels * side * side, seed: 12)
    // The chain by hand: each step the maximum of a 2x2 window, one row and column fewer.
    var expected = values, current = side
    for _ in 0..<steps {
        let next = current - 1
        expected = (0..<(channels * next * next)).map { i in
            let (c, p) = i.quotientAndRemainder(dividingBy: next * next), (r, q) = p.quotientAndRemainder(dividingBy: next)
            let at = { (dr: Int, dq: Int) in expected[c * current * current + (r + dr) * current + q + dq] }
            return max(max(at(0, 0), at(0, 1)), max(at(1, 0), at(1, 1)))
        }
        current = next
    }
    func held(threads: Int) throws -> Int {
        let graph = try Graph(inputs: [input], outputs: [y], constants: [:], nodes: specs)
        for _ in 0..<3 {
            let out = try Parallel.withThreads(threads) { try graph.run(["x": t([1, channels, side, side], values)]) }
            #expect(try out["y"]!.floats() == expected, "\(threads) threads")
        }
        return graph.pooledElements
    }
    let largest = channels * side * side, one = try held(threads: 1), two = try held(threads: 2)
    #expect(one <= 3 * largest, "one thread: the pool holds \(one) floats")
    #expect(two >= steps * (channels * (side - steps) * (side - steps)), "two threads: the pool holds \(two) floats")
}

/// Copies its float input into a fresh aligned buffer from the run's pool.
private struct AlignedCopy: Operator {
    var factor: Float = 1
    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "x"), values = try x.floats()
        return [Tensor(shape: x.shape, aligned: BufferPool.alignedFloats(values.count) { out in
            for i in values.indices { out[i] = values[i] * factor }
        })]
    }
}

/// Offered its input's buffer, writes into a fresh one all the same (as `BlockedConv` does for
/// an X it cannot take).
private struct DeclinesItsInput: InputOverwriting {
    var overwritableInput: Int? { 0 }
    func run(_ inputs: [Tensor?]) throws -> [Tensor] { try AlignedCopy(factor: 2).run(inputs) }
    func runOverwriting(_ inputs: [Tensor?]) throws -> [Tensor] { try run(inputs) }
}

/// An input the graph offers to overwrite but the operator does not take goes back to the pool
/// like any other dead buffer, instead of being dropped.
@Test func anInputOfferedButNotTakenReturnsToThePool() throws {
    let graph = try Graph(inputs: [x], outputs: [y], constants: [:], nodes: [
        NodeSpec(name: "copy", opType: "AlignedCopy", op: AlignedCopy(), inputs: ["x"], outputs: ["a"]),
        NodeSpec(name: "double", opType: "DeclinesItsInput", op: DeclinesItsInput(), inputs: ["a"], outputs: ["y"]),
    ])
    let input = t([32, 2], pseudoRandom(64, seed: 12))
    #expect(try graph.run(["x": input])["y"]!.floats() == input.floats().map { $0 * 2 })
    #expect(graph.pooledElements >= 64, "the copy's buffer was dropped: the pool holds \(graph.pooledElements) floats")
}
