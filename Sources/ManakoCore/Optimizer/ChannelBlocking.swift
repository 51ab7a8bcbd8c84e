extension GraphOptimizer {
    /// What a node does in a blocked chain.
    enum BlockedRole {
        /// A 1x1, depthwise or few-channel convolution (`BlockedConv`): blocked output.
        case conv(BlockedConv.Kind)
        /// Mul of a 4-D value by a per-channel [N or 1, C, 1, 1] one (squeeze-and-excitation):
        /// blocked output; `x` is the input index of the 4-D value. (An unknown batch is taken to
        /// be the same on both; `BlockedChannelScale` refuses other batches when it runs.)
        case scale(x: Int)
        /// GlobalAveragePool: reads the blocked layout, writes [N, C, 1, 1] (the same in both).
        case pool
        /// A 2-D MaxPool or AveragePool: blocked in and out.
        case windowPool(BlockedPool)
    }

    /// Moves chains of convolutions (the inverted residual blocks of MobileNet and EfficientNet,
    /// with their squeeze-and-excitation; ResNet's bottlenecks, stem and max pool; DenseNet's
    /// dense layers and transitions) into the
    /// channel-blocked layout (`ChannelBlocks`), where depthwise windows need no shuffles and a
    /// convolution's tiles have sixteen output channels whatever the pixel count, read in place
    /// with no im2col, and Winograd's transforms are plain vector arithmetic. A chain is the set of
    /// convertible nodes linked by the values they read in the blocked layout; one reorder brings
    /// each value from outside into it and one takes each result out to any other reader. A chain
    /// is converted only when its reorders move at most half as many floats as it writes (else
    /// the copies cost what it saves). Needs the inferred shapes: every node in a chain has known
    /// channels and spatial size. Returns the nodes and how many convolutions were converted.
    public static func blockChannels(_ nodes: [NodeSpec], shapes: [String: [Int?]], constants: inout [String: Tensor],
                                     outputs: [ValueInfo]) -> ([NodeSpec], Int) {
        /// Floats of a value per image, when its channels and spatial size are known (and below
        /// 2^40, so that sums over a graph's nodes cannot overflow whatever a file declares).
        func size(_ value: String) -> Int? {
            guard let shape = shapes[value], shape.count == 4, let c = shape[1], let h = shape[2], let w = shape[3] else { return nil }
            let (plane, overflow) = h.multipliedReportingOverflow(by: w)
            let (total, overflow2) = plane.multipliedReportingOverflow(by: c)
            return overflow || overflow2 || total > 1 << 40 ? nil : total
        }
        func blockable(_ value: String) -> Bool {
            guard let shape = shapes[value], shape.count == 4, let c = shape[1], let floats = size(value) else { return false }
            return floats > 0 && c % ChannelBlocks.width == 0
        }
        var roles: [Int: BlockedRole] = [:]
        // Winograd's output tile side per node that takes it (4, or 2 for small planes).
        var winogradTiles: [Int: Int] = [:]
        for (n, node) in nodes.enumerated() {
            if let conv = node.op as? Conv {
                guard node.inputs.count > 1, node.outputs.count == 1, let w = constants[node.inputs[1]], w.elementType == .float32,
                      size(node.inputs[0]) != nil, blockable(node.outputs[0]), let kind = BlockedConv.kind(of: conv, weightShape: w.shape),
                      kind == .fewChannels || (0..<conv.inputParts).allSatisfy({ blockable(node.inputs[Conv.partIndex($0)]) }) else { continue }
                if conv.addsResidual && !(node.inputs.count > 3 && shapes[node.inputs[3]] == shapes[node.outputs[0]]) { continue }
                // 3x3 stride-1 layers with enough tiles go by Winograd.
                if kind == .window, let out = shapes[node.outputs[0]], let oh = out[2], let ow = out[3],
                   BlockedConv.winogradFits(conv, weightShape: w.shape),
                   let tile = BlockedWinogradKernel.tile(height: oh, width: ow, inChannels: w.shape[1], outChannels: w.shape[0]) {
                    roles[n] = .conv(.winograd)
                    winogradTiles[n] = tile
                    continue
                }
                roles[n] = .conv(kind)
            } else if node.op is Mul, node.inputs.count == 2, node.outputs.count == 1 {
                for x in 0..<2 {
                    let factors = node.inputs[1 - x]
                    guard blockable(node.inputs[x]), let full = shapes[node.inputs[x]], let s = shapes[factors], s.count == 4,
                          s[1] == full[1], s[2] == 1, s[3] == 1, s[0] == 1 || s[0] == full[0],
                          shapes[node.outputs[0]] == full else { continue }
                    roles[n] = .scale(x: x)
                    break
                }
            } else if node.op is GlobalAveragePool, node.inputs.count == 1, blockable(node.inputs[0]) {
                roles[n] = .pool
            } else if node.inputs.count == 1, node.outputs.count == 1, blockable(node.inputs[0]), blockable(node.outputs[0]) {
                if let pool = node.op as? MaxPool, pool.kernelShape.count == 2 { roles[n] = .windowPool(BlockedPool(pool)) }
                if let pool = node.op as? AveragePool, pool.kernelShape.count == 2 { roles[n] = .windowPool(BlockedPool(pool)) }
            }
        }
        /// The inputs a node reads in the blocked layout.
        func blockedInputs(_ n: Int) -> [String] {
            let node = nodes[n]
            switch roles[n]! {
            case .conv(let kind):
                let parts = (node.op as? Conv)?.inputParts ?? 1
                return (kind != .fewChannels ? (0..<parts).map { node.inputs[Conv.partIndex($0)] } : [])
                    + (node.inputs.count > 3 && !node.inputs[3].isEmpty ? [node.inputs[3]] : [])
            case .scale(let x): return [node.inputs[x]]
            case .pool, .windowPool: return [node.inputs[0]]
            }
        }
        func writesBlocked(_ n: Int) -> Bool {
            if case .pool = roles[n]! { return false }
            return true
        }
        let producer = producerIndex(nodes), readers = readerIndex(nodes)
        /// The chain member producing `value` in the blocked layout, if any.
        func blockedProducer(_ value: String) -> Int? {
            guard let p = producer[value], roles[p] != nil, writesBlocked(p) else { return nil }
            return p
        }
        // Chains: union-find over the nodes linked through the values they read blocked.
        var parent = Dictionary(uniqueKeysWithValues: roles.keys.map { ($0, $0) })
        func root(_ n: Int) -> Int {
            var r = n
            while parent[r]! != r { r = parent[r]! }
            return r
        }
        for n in roles.keys {
            for value in blockedInputs(n) { if let p = blockedProducer(value) { parent[root(n)] = root(p) } }
        }
        var chains: [Int: [Int]] = [:]
        for n in roles.keys { chains[root(n), default: []].append(n) }
        let outputNames = Set(outputs.map(\.name))
        /// Whether a blocked output must also exist in NCHW: a graph output, or read by a node
        /// that does not read it blocked.
        func readInNCHW(_ output: String, inside chain: Set<Int>) -> Bool {
            outputNames.contains(output) || (readers[output] ?? []).contains { !chain.contains($0) || !blockedInputs($0).contains(output) }
        }
        var converted = Set<Int>()
        for members in chains.values {
            let inChain = Set(members)
            let written = members.filter(writesBlocked).reduce(0) { $0 + (size(nodes[$1].outputs[0]) ?? 0) }
            var entering = Set<String>(), leaving = Set<String>()
            for n in members {
                for value in blockedInputs(n) where !(blockedProducer(value).map(inChain.contains) ?? false) { entering.insert(value) }
                if writesBlocked(n) && readInNCHW(nodes[n].outputs[0], inside: inChain) { leaving.insert(nodes[n].outputs[0]) }
            }
            let moved = entering.union(leaving).reduce(0) { $0 + (size($1) ?? written) }
            if 2 * moved <= written { converted.formUnion(members) }
        }
        if converted.isEmpty { return (nodes, 0) }

        func blockedName(_ value: String) -> String { value + "#nchw8c" }
        /// Drops a convolution's decoded W as soon as it is packed, when no other node reads it
        /// and it is no graph output: the load then holds each layer's floats once, not every
        /// layer's decoded and packed floats together until the pass ends (the load's peak:
        /// ResNet-50 257 -> 186 MB, VGG-19 840 -> 770 MB; that much less fresh memory to fault in).
        func releaseIfUnread(_ weight: String, reader n: Int) {
            if readers[weight] == [n] && !outputNames.contains(weight) { constants.removeValue(forKey: weight) }
        }
        /// A channel scale whose one reader is a converted 1x1 convolution taking it as X folds
        /// into that convolution's weights (`BlockedConv.scalesInput`): output -> (X, S). Only
        /// where the weights are smaller than the pass over X they save (M < H x W: the early,
        /// large planes; at 7x7 rescaling 1152x192 weights would cost more than scaling X).
        var foldedScales: [String: (x: String, factors: String)] = [:]
        for n in converted {
            guard case .scale(let x) = roles[n]!, let output = nodes[n].outputs.first, !outputNames.contains(output),
                  let users = readers[output], users.count == 1, let user = users.first, converted.contains(user),
                  case .conv(.pointwise) = roles[user]!, nodes[user].inputs[0] == output, (nodes[user].op as? Conv)?.inputParts == 1,
                  !(nodes[user].inputs.count > 3 && nodes[user].inputs[3] == output),
                  let m = constants[nodes[user].inputs[1]]?.shape.first, let plane = shapes[output],
                  let h = plane[2], let w = plane[3], m < h * w else { continue }
            foldedScales[output] = (nodes[n].inputs[x], nodes[n].inputs[1 - x])
        }
        var result: [NodeSpec] = []
        var reordered = Set<String>()
        for (n, node) in nodes.enumerated() {
            guard converted.contains(n) else {
                result.append(node)
                continue
            }
            // Values from outside the chains come in through one reorder each.
            for value in blockedInputs(n) where !(blockedProducer(value).map(converted.contains) ?? false) && reordered.insert(value).inserted {
                result.append(NodeSpec(name: value + "/to NCHW8c", opType: "Reorder", op: ChannelReorder(toBlocked: true),
                                       inputs: [value], outputs: [blockedName(value)]))
            }
            if let output = node.outputs.first, foldedScales[output] != nil { continue }
            var copy = node
            switch roles[n]! {
            case .conv:
                // `kind` found a form from W's shape; packing it succeeds (and is done only now,
                // for the chains that convert).
                guard case .conv(let kind) = roles[n]!, let conv = node.op as? Conv, let w = constants[node.inputs[1]],
                      let blocked = BlockedConv(conv, weights: w, winogradTile: kind == .winograd ? winogradTiles[n] : nil) else {
                    result.append(node)
                    continue
                }
                copy.op = blocked
                if case .depthwise = blocked.weights, !conv.addsResidual, let plane = shapes[node.inputs[0]], plane.count == 4,
                   let out = shapes[node.outputs[0]], out == plane, let width = plane[3],
                   let g = try? WindowGeometry.make(input: plane.map { $0 ?? 1 }, kernel: Array(w.shape.dropFirst(2)),
                                                    strides: conv.strides, dilations: conv.dilations, pads: conv.pads,
                                                    autoPad: conv.autoPad),
                   g.outWidth == width, BlockedDepthwiseKernel.runsPadded(g) {
                    var inPlace = blocked
                    inPlace.depthwiseInPlace = true
                    copy.op = inPlace
                }
                if blocked.readsBlockedInput {
                    for part in 0..<conv.inputParts { copy.inputs[Conv.partIndex(part)] = blockedName(node.inputs[Conv.partIndex(part)]) }
                }
                copy.inputs[1] = ""
                releaseIfUnread(node.inputs[1], reader: n)
                if node.inputs.count > 3 && !node.inputs[3].isEmpty { copy.inputs[3] = blockedName(node.inputs[3]) }
                if let (x, factors) = foldedScales[node.inputs[0]] {
                    var scaling = blocked
                    scaling.scalesInput = true
                    copy.op = scaling
                    copy.inputs[0] = blockedName(x)
                    while copy.inputs.count < 4 { copy.inputs.append("") }
                    copy.inputs.append(factors)
                }
            case .scale(let x):
                copy.op = BlockedChannelScale()
                copy.inputs = [blockedName(node.inputs[x]), node.inputs[1 - x]]
            case .pool:
                copy.op = BlockedGlobalAveragePool()
                copy.inputs = [blockedName(node.inputs[0])]
            case .windowPool(let pool):
                copy.op = pool
                copy.inputs = [blockedName(node.inputs[0])]
            }
            guard writesBlocked(n) else {
                result.append(copy)
                continue
            }
            let output = node.outputs[0]
            copy.outputs = [blockedName(output)]
            result.append(copy)
            // Readers outside the blocked chains (and graph outputs) get the NCHW copy under the old name.
            if readInNCHW(output, inside: converted) {
                result.append(NodeSpec(name: output + "/to NCHW", opType: "Reorder", op: ChannelReorder(toBlocked: false),
                                       inputs: [blockedName(output)], outputs: [output]))
            }
        }
        let suffix = blockedName("")
        result = fuseExpandDepthwise(result, shapes: shapes, outputNames: outputNames) {
            $0.hasSuffix(suffix) ? String($0.dropLast(suffix.count)) : $0
        }
        let read = Set(result.flatMap(\.inputs)).union(outputNames)
        constants = constants.filter { read.contains($0.key) }
        return (result, converted.filter { if case .conv = roles[$0]! { return true } else { return false } }.count)
    }
}
