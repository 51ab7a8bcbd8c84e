extension GraphOptimizer {
    /// The expanded tensor (floats per image) from which an expansion and its depthwise
    /// convolution run as one: this machine's 512 KB L2. Smaller ones stay in cache between the
    /// two nodes anyway, where the plain kernels' packed panels are faster.
    static let fusedExpansionFloats = 128 << 10
    /// The narrowest plane fused: the fused kernel's GEMM runs row by row, and rows of fewer
    /// pixels waste more of their last panel of six (EfficientNet's 14x14 layers ran 8 % slower).
    static let fusedExpansionWidth = 24

    /// Fuses each blocked 1x1 expansion (or stem) whose output only a blocked depthwise
    /// convolution reads (as X; no graph output) with that convolution (`BlockedExpandDepthwise`,
    /// `BlockedStemDepthwise`), where the expanded tensor is at least `fusedExpansionFloats`,
    /// its plane `fusedExpansionWidth` wide, and the window has a microkernel.
    /// `original` names the NCHW value a blocked one stands for (its known shape).
    static func fuseExpandDepthwise(_ nodes: [NodeSpec], shapes: [String: [Int?]], outputNames: Set<String>,
                                    original: (String) -> String) -> [NodeSpec] {
        let readers = readerIndex(nodes)
        var fusedAt: [Int: NodeSpec] = [:], absorbed = Set<Int>()
        for (n, node) in nodes.enumerated() {
            guard let expand = node.op as? BlockedConv, node.outputs.count == 1, !outputNames.contains(node.outputs[0]),
                  let users = readers[node.outputs[0]], users.count == 1, let d = users.first, fusedAt[d] == nil,
                  let depthwise = nodes[d].op as? BlockedConv, nodes[d].inputs.first == node.outputs[0],
                  let expanded = shapes[original(node.outputs[0])], expanded.count == 4,
                  let e = expanded[1], let h = expanded[2], let w = expanded[3],
                  e * h * w >= fusedExpansionFloats, w >= fusedExpansionWidth else { continue }
            let pair: any Operator
            if let stem = BlockedStemDepthwise(stem: expand, depthwise: depthwise) {
                // The stem's own input plane is the one whose geometry is checked.
                guard let x = shapes[original(node.inputs[0])], x.count == 4, let c = x[1], let xh = x[2], let xw = x[3],
                      let geometries = try? stem.geometries([1, c, xh, xw]), geometries.stem.outHeight == h,
                      geometries.stem.outWidth == w else { continue }
                pair = stem
            } else if let expansion = BlockedExpandDepthwise(expand: expand, depthwise: depthwise),
                      (try? expansion.geometry([1, expansion.expandWeights.depth, h, w])) != nil {
                pair = expansion
            } else {
                continue
            }
            let bias = { (spec: NodeSpec) in spec.inputs.count > 2 ? spec.inputs[2] : "" }
            fusedAt[d] = NodeSpec(name: node.name + " + " + nodes[d].name, opType: "Conv", op: pair,
                                  inputs: [node.inputs[0], bias(node), bias(nodes[d])], outputs: nodes[d].outputs)
            absorbed.insert(n)
        }
        return nodes.enumerated().compactMap { n, node in absorbed.contains(n) ? nil : fusedAt[n] ?? node }
    }
}
