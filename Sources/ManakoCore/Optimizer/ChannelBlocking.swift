extension GraphOptimizer {
    /// Moves chains of 1x1 and depthwise convolutions (the inverted residual blocks of MobileNet
    /// and EfficientNet-Lite) into the channel-blocked layout (`ChannelBlocks`), where depthwise
    /// windows need no shuffles and 1x1 tiles have sixteen output channels whatever the pixel count.
    /// A chain is the set of convertible convolutions linked by their X and residual inputs; one
    /// reorder brings each value into it and one takes each result out to any other reader. A
    /// chain is converted only when it holds a depthwise convolution and its reorders move at
    /// most half as many floats as its convolutions write (else the copies cost what it saves).
    /// Needs the inferred shapes: every convolution in a chain has known channels and spatial
    /// size. Returns the nodes and how many convolutions were converted.
    public static func blockChannels(_ nodes: [NodeSpec], shapes: [String: [Int?]], constants: inout [String: Tensor],
                                     outputs: [ValueInfo]) -> ([NodeSpec], Int) {
        /// Floats of a value per image, when its channels and spatial size are known.
        func size(_ value: String) -> Int? {
            guard let shape = shapes[value], shape.count == 4, let c = shape[1], let h = shape[2], let w = shape[3] else { return nil }
            return c * h * w
        }
        var candidates: [Int: BlockedConv] = [:]
        for (n, node) in nodes.enumerated() {
            guard let conv = node.op as? Conv, node.inputs.count > 1, node.outputs.count == 1, let w = constants[node.inputs[1]],
                  size(node.inputs[0]) != nil, let outputSize = size(node.outputs[0]), outputSize > 0,
                  let c = shapes[node.inputs[0]]?[1], let blocked = BlockedConv(conv, weights: w),
                  !blocked.readsBlockedInput || c % ChannelBlocks.width == 0 else { continue }
            if conv.addsResidual && !(node.inputs.count > 3 && shapes[node.inputs[3]] == shapes[node.outputs[0]]) { continue }
            candidates[n] = blocked
        }
        let producer = producerIndex(nodes), readers = readerIndex(nodes)
        /// The inputs a blocked convolution reads in the blocked layout: X (but a stem's) and the residual.
        func blockedInputs(_ n: Int) -> [String] {
            let node = nodes[n]
            return (candidates[n]!.readsBlockedInput ? [node.inputs[0]] : [])
                + (node.inputs.count > 3 && !node.inputs[3].isEmpty ? [node.inputs[3]] : [])
        }
        // Chains: union-find over candidates linked through their blocked inputs.
        var parent = Dictionary(uniqueKeysWithValues: candidates.keys.map { ($0, $0) })
        func root(_ n: Int) -> Int {
            var r = n
            while parent[r]! != r { r = parent[r]! }
            return r
        }
        for n in candidates.keys {
            for value in blockedInputs(n) {
                if let p = producer[value], candidates[p] != nil { parent[root(n)] = root(p) }
            }
        }
        var chains: [Int: [Int]] = [:]
        for n in candidates.keys { chains[root(n), default: []].append(n) }
        let outputNames = Set(outputs.map(\.name))
        var converted = Set<Int>()
        for members in chains.values {
            let inChain = Set(members)
            guard members.contains(where: { if case .depthwise = candidates[$0]!.weights { return true } else { return false } }) else { continue }
            let written = members.reduce(0) { $0 + size(nodes[$1].outputs[0])! }
            var entering = Set<String>(), leaving = Set<String>()
            for n in members {
                for value in blockedInputs(n) where !(producer[value].map(inChain.contains) ?? false) { entering.insert(value) }
                let output = nodes[n].outputs[0]
                if outputNames.contains(output) || (readers[output] ?? []).contains(where: { !inChain.contains($0) || !blockedInputs($0).contains(output) }) {
                    leaving.insert(output)
                }
            }
            let moved = entering.union(leaving).reduce(0) { $0 + (size($1) ?? written) }
            if 2 * moved <= written { converted.formUnion(members) }
        }
        if converted.isEmpty { return (nodes, 0) }

        func blockedName(_ value: String) -> String { value + "#nchw8c" }
        var result: [NodeSpec] = []
        var reordered = Set<String>()
        for (n, node) in nodes.enumerated() {
            guard converted.contains(n) else {
                result.append(node)
                continue
            }
            // Values from outside the chains come in through one reorder each.
            for value in blockedInputs(n) where !(producer[value].map(converted.contains) ?? false) && reordered.insert(value).inserted {
                result.append(NodeSpec(name: value + "/to NCHW8c", opType: "Reorder", op: ChannelReorder(toBlocked: true),
                                       inputs: [value], outputs: [blockedName(value)]))
            }
            var copy = node
            copy.op = candidates[n]!
            if candidates[n]!.readsBlockedInput { copy.inputs[0] = blockedName(node.inputs[0]) }
            copy.inputs[1] = ""
            if node.inputs.count > 3 && !node.inputs[3].isEmpty { copy.inputs[3] = blockedName(node.inputs[3]) }
            let output = node.outputs[0]
            copy.outputs = [blockedName(output)]
            result.append(copy)
            // Readers outside the blocked chains (and graph outputs) get the NCHW copy under the old name.
            let plainReaders = (readers[output] ?? []).contains { !converted.contains($0) || !blockedInputs($0).contains(output) }
            if plainReaders || outputNames.contains(output) {
                result.append(NodeSpec(name: output + "/to NCHW", opType: "Reorder", op: ChannelReorder(toBlocked: false),
                                       inputs: [blockedName(output)], outputs: [output]))
            }
        }
        let read = Set(result.flatMap(\.inputs)).union(outputNames)
        constants = constants.filter { read.contains($0.key) }
        return (result, converted.count)
    }
}
