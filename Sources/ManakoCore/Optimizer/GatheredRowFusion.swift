extension GraphOptimizer {
    /// Whether row t of the node's output (along axis -2) reads only row t of its inputs, so
    /// it can run on one row: elementwise nodes, LayerNormalization over the last axis, MatMul
    /// by a packed constant B (with or without a fused residual, read row by row as an Add's).
    static func isRowLocal(_ node: NodeSpec) -> Bool {
        guard node.outputs.count == 1 else { return false }
        switch node.op {
        case is Add, is Sub, is Mul, is Div: return node.inputs.count == 2
        case is Relu, is Gelu, is Erf, is Sigmoid, is Tanh: return node.inputs.count == 1
        case let norm as LayerNormalization: return norm.axis == -1
        case let matMul as MatMul:
            return matMul.packedB != nil && (node.inputs.count < 2 || node.inputs[1].isEmpty) && (node.inputs.count < 3 || matMul.addsResidual)
        default: return false
        }
    }

    /// Each Gather of one row along axis 1, with the row-local nodes (at least one MatMul among
    /// them) whose outputs only it and they read, becomes one `GatheredRowRegion` that runs them
    /// on that row alone. The region's constants (but the Gather's index) become its inputs, so
    /// a constant with rows (a position embedding) is cut with the rest. The regions' own graphs
    /// keep the model's `maxTensorElements` (a nested run sets its graph's limit).
    public static func fuseGatheredRowRegions(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                              maxTensorElements: Int = ResourceLimits.defaults.maxTensorElements,
                                              report: inout Report) throws -> [NodeSpec] {
        let readers = readerIndex(nodes), producer = producerIndex(nodes)
        var replaced: [Int: NodeSpec] = [:], absorbed = Set<Int>()
        for (g, gather) in nodes.enumerated() {
            guard let op = gather.op as? Gather, op.axis == 1 || op.axis == -2, gather.inputs.count == 2,
                  gather.outputs.count == 1, let index = constants[gather.inputs[1]], index.count == 1,
                  index.elementType == .int64 || index.elementType == .int32, let row = try index.int64s().first,
                  producer[gather.inputs[0]] != nil else { continue }
            // Grow from the Gather's data: a producer joins when it is row-local and every reader
            // of its output is already in the region.
            var region: Set<Int> = [g], grew = true
            while grew {
                grew = false
                for n in region {
                    for input in nodes[n].inputs where !input.isEmpty && !outputNames.contains(input) {
                        guard let p = producer[input], !region.contains(p), !absorbed.contains(p), isRowLocal(nodes[p]),
                              (readers[input] ?? []).allSatisfy(region.contains) else { continue }
                        region.insert(p)
                        grew = true
                    }
                }
            }
            guard region.contains(where: { nodes[$0].op is MatMul }) else { continue }
            let ordered = region.sorted()
            let produced = Set(ordered.flatMap { nodes[$0].outputs })
            var external: [String] = []
            for n in ordered {
                for input in nodes[n].inputs where !input.isEmpty && !produced.contains(input) && !external.contains(input) {
                    if n == g && input == gather.inputs[1] { continue }
                    external.append(input)
                }
            }
            // An attention whose output reaches the region only through a Reshape computes the
            // gathered query row alone (checked on each run against the Reshape's shape).
            for value in external {
                guard let r = producer[value], let reshape = nodes[r].op as? Reshape, nodes[r].inputs.count == 2,
                      (readers[value] ?? []).allSatisfy(region.contains), let a = producer[nodes[r].inputs[0]],
                      var attention = nodes[a].op as? Attention, attention.headsAfterRows, attention.onlyQueryRow == nil,
                      readers[nodes[r].inputs[0]] == [r], replaced[a] == nil,
                      !dependsOn(nodes[r].inputs[1], a, nodes: nodes, producer: producer) else { continue }
                var spec = nodes[a]
                attention.onlyQueryRow = (Int(row), spec.inputs.count, reshape.allowZero)
                spec.inputs.append(nodes[r].inputs[1])
                spec.op = attention
                replaced[a] = spec
            }
            let inputs = external.map { ValueInfo(name: $0, elementType: nil, shape: nil) }
            let outputs = [ValueInfo(name: gather.outputs[0], elementType: nil, shape: nil)]
            let indexName = gather.inputs[1], first = Tensor(shape: index.shape, int64s: [0])
            let specs = ordered.map { nodes[$0] }
            let allRows = try Graph(inputs: inputs, outputs: outputs, constants: [indexName: index], nodes: specs,
                                    maxTensorElements: maxTensorElements)
            let oneRow = try Graph(inputs: inputs, outputs: outputs, constants: [indexName: first], nodes: specs,
                                   maxTensorElements: maxTensorElements)
            let fused = GatheredRowRegion(row: Int(row), allRows: allRows, oneRow: oneRow, nodeCount: ordered.count)
            replaced[g] = NodeSpec(name: gather.name + " (gathered row)", opType: "GatheredRowRegion", op: fused,
                                   inputs: external, outputs: gather.outputs)
            absorbed.formUnion(region)
            report.gatheredRowRegions += 1
        }
        return nodes.enumerated().compactMap { n, node in replaced[n] ?? (absorbed.contains(n) ? nil : node) }
    }

    /// Whether `value` is computed from node `node`'s outputs (so `node` reading it would close a cycle).
    static func dependsOn(_ value: String, _ node: Int, nodes: [NodeSpec], producer: [String: Int]) -> Bool {
        var pending = [value], seen = Set<String>()
        while let v = pending.popLast() {
            guard seen.insert(v).inserted, let p = producer[v] else { continue }
            if p == node { return true }
            pending += nodes[p].inputs.filter { !$0.isEmpty }
        }
        return false
    }
}
