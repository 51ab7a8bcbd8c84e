extension GraphOptimizer {
    /// The integers a constant holds, or nil when `value` is no integer constant.
    static func constantInts(_ value: String, _ constants: [String: Tensor]) -> [Int]? {
        constants[value].flatMap { try? $0.int64s().map { Int(clamping: $0) } }
    }

    /// The value `value` views and the steps from it (in order), following back the
    /// Transposes, Squeezes, Splits and Gathers that only view their input (axes and sizes
    /// given as constants). A value no such node produced is its own base with no steps.
    static func tracedView(of value: String, nodes: [NodeSpec], producer: [String: Int],
                           constants: [String: Tensor]) -> (base: String, view: ViewChain) {
        func constantInts(_ value: String) -> [Int]? { GraphOptimizer.constantInts(value, constants) }
        var current = value, steps: [ViewStep] = []
        while steps.count < 16, let p = producer[current], let source = nodes[p].inputs.first, !source.isEmpty {
            let node = nodes[p]
            if let transpose = node.op as? Transpose, node.outputs.count == 1 {
                steps.append(.transpose(transpose.permutation))
            } else if let squeeze = node.op as? Squeeze, node.outputs.count == 1 {
                if node.inputs.count > 1 && !node.inputs[1].isEmpty {
                    guard let axes = constantInts(node.inputs[1]) else { break }
                    steps.append(.squeeze(axes))
                } else {
                    steps.append(.squeeze(squeeze.staticAxes))
                }
            } else if let split = node.op as? Split, let part = node.outputs.firstIndex(of: current) {
                var sizes = split.staticSplit
                if node.inputs.count > 1 && !node.inputs[1].isEmpty {
                    guard let given = constantInts(node.inputs[1]) else { break }
                    sizes = given
                }
                steps.append(.split(axis: split.axis, part: part, sizes: sizes?.isEmpty == true ? nil : sizes, parts: split.outputCount))
            } else if let gather = node.op as? Gather, node.outputs.count == 1, node.inputs.count == 2,
                      let index = constants[node.inputs[1]], index.rank == 0, let i = constantInts(node.inputs[1])?.first {
                steps.append(.gather(axis: gather.axis, index: i))
            } else {
                break
            }
            current = source
        }
        return (current, ViewChain(steps: steps.reversed()))
    }

    /// Each Shape of a view (a Transpose, Split, Squeeze or Gather chain) reads the viewed
    /// value's shape through the view instead, so the viewing nodes need not run for it
    /// (torch reads attention's depth from Q's Shape; tf2onnx takes Shapes of Transposes).
    /// Nodes this leaves without readers are for `removeDeadNodes`.
    static func readShapesThroughViews(_ nodes: [NodeSpec], constants: [String: Tensor], report: inout Report) -> [NodeSpec] {
        let producer = producerIndex(nodes)
        return nodes.map { node in
            guard var shape = node.op as? ShapeOf, shape.view == nil, node.inputs.count == 1 else { return node }
            let (base, view) = tracedView(of: node.inputs[0], nodes: nodes, producer: producer, constants: constants)
            guard !view.steps.isEmpty else { return node }
            shape.view = view
            var copy = node
            copy.op = shape
            copy.inputs = [base]
            report.shapesReadThroughViews += 1
            return copy
        }
    }
}

extension GraphOptimizer {
    /// The rewrites that read values through views, run once the weights are prepared (a
    /// packed MatMul is no attention product): attention fused (`fuseAttention`), Shapes read
    /// through views, then the nodes left without readers removed.
    public static func readThroughViews(_ nodes: [NodeSpec], constants: inout [String: Tensor], outputs: [ValueInfo],
                                        report: inout Report) -> [NodeSpec] {
        let outputNames = Set(outputs.map(\.name))
        var nodes = fuseAttention(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = readShapesThroughViews(nodes, constants: constants, report: &report)
        return removeDeadNodes(nodes, constants: &constants, outputNames: outputNames, report: &report)
    }
}
