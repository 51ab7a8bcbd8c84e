extension GraphOptimizer {
    /// The expanded tensor (floats per image) from which an expansion and its depthwise
    /// convolution run as one: this machine's 512 KB L2. Smaller ones stay in cache between the
    /// two nodes anyway, where the plain kernels' packed panels are faster.
    static let fusedExpansionFloats = 128 << 10
    /// The narrowest plane fused: the fused kernel's GEMM runs row by row, and rows of fewer
    /// pixels waste more of their last panel of six (EfficientNet's 14x14 layers ran 8 % slower).
    static let fusedExpansionWidth = 24

    /// Fuses each blocked 1x1 expansion (or stem) whose output only a blocked depthwise
    /// convolution reads (as X; no graph output) with that convolution, where the expanded tensor
    /// is at least `fusedExpansionFloats`, its plane `fusedExpansionWidth` wide, and the window
    /// has a microkernel; a blocked 1x1 projection that alone reads the depthwise output joins
    /// them (`BlockedInvertedResidual`), else an expansion and its depthwise layer run as
    /// `BlockedExpandDepthwise`, a stem and its depthwise layer as `BlockedInvertedResidual`.
    /// `original` names the NCHW value a blocked one stands for (its known shape).
    static func fuseExpandDepthwise(_ nodes: [NodeSpec], shapes: [String: [Int?]], outputNames: Set<String>,
                                    original: (String) -> String) -> [NodeSpec] {
        let readers = readerIndex(nodes)
        var fusedAt: [Int: NodeSpec] = [:], absorbed = Set<Int>()
        /// The one blocked node reading `value` as X (and nothing else of it), if it is not a graph output.
        func soleReader(_ value: String) -> (index: Int, op: BlockedConv)? {
            guard !outputNames.contains(value), let users = readers[value], users.count == 1, let d = users.first,
                  fusedAt[d] == nil, !absorbed.contains(d), let op = nodes[d].op as? BlockedConv, nodes[d].inputs.first == value,
                  nodes[d].inputs.dropFirst().allSatisfy({ $0 != value }) else { return nil }
            return (d, op)
        }
        let bias = { (spec: NodeSpec) in spec.inputs.count > 2 ? spec.inputs[2] : "" }
        for (n, node) in nodes.enumerated() {
            guard let source = node.op as? BlockedConv, node.outputs.count == 1, !absorbed.contains(n), fusedAt[n] == nil,
                  let (d, depthwise) = soleReader(node.outputs[0]),
                  let expanded = shapes[original(node.outputs[0])], expanded.count == 4,
                  let e = expanded[1], let h = expanded[2], let w = expanded[3],
                  e * h * w >= fusedExpansionFloats, w >= fusedExpansionWidth,
                  let x = shapes[original(node.inputs[0])], x.count == 4, let c = x[1], let xh = x[2], let xw = x[3] else { continue }
            /// Whether `op` runs on this X with the depthwise plane the shapes say.
            func fits(_ op: BlockedInvertedResidual) -> Bool {
                guard let (_, g) = try? op.geometries([1, c, xh, xw]) else { return false }
                return g.inHeight == h && g.inWidth == w
            }
            if let (p, projection) = soleReader(nodes[d].outputs[0]),
               let triple = BlockedInvertedResidual(source: source, depthwise: depthwise, projection: projection), fits(triple) {
                let residual = projection.conv.addsResidual && nodes[p].inputs.count > 3 ? nodes[p].inputs[3] : ""
                fusedAt[p] = NodeSpec(name: [node.name, nodes[d].name, nodes[p].name].joined(separator: " + "), opType: "Conv", op: triple,
                                      inputs: [node.inputs[0], bias(node), bias(nodes[d]), bias(nodes[p]), residual], outputs: nodes[p].outputs)
                absorbed.formUnion([n, d])
                continue
            }
            let pair: any Operator
            if let stem = BlockedInvertedResidual(source: source, depthwise: depthwise), fits(stem) {
                pair = stem
            } else if let expansion = BlockedExpandDepthwise(expand: source, depthwise: depthwise),
                      (try? expansion.geometry([1, expansion.expandWeights.depth, h, w])) != nil {
                pair = expansion
            } else {
                continue
            }
            fusedAt[d] = NodeSpec(name: node.name + " + " + nodes[d].name, opType: "Conv", op: pair,
                                  inputs: [node.inputs[0], bias(node), bias(nodes[d])], outputs: nodes[d].outputs)
            absorbed.insert(n)
        }
        return nodes.enumerated().compactMap { n, node in absorbed.contains(n) ? nil : fusedAt[n] ?? node }
    }
}
