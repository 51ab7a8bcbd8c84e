/// Load-time rewrites of an imported graph, before it is ordered and run:
/// pass-through removal, constant folding, BatchNormalization folding, dead-node removal.
public enum GraphOptimizer {
    /// What the passes did, for `manako info`.
    public struct Report: Sendable, Equatable {
        public var removedPassThroughs = 0
        public var foldedConstants = 0
        public var foldedBatchNorms = 0
        public var removedDeadNodes = 0
        public var fusedActivations = 0
        public var foldedPads = 0
        public var fusedResiduals = 0
        public var packedConvolutions = 0
        public var packedMatMuls = 0
        public var fusedMatMulBiases = 0
        public var fusedMatMulResiduals = 0
        /// LayerNorms written out as ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div (torch below opset 17).
        public var fusedLayerNorms = 0
        /// LayerNormalizations that now run inside the one MatMul reading them (`MatMul.inputNorm`).
        public var layerNormsFusedIntoMatMuls = 0
        public var batchNormsFusedIntoConcats = 0
        /// Concats on channels whose one reader, a 1x1 convolution, now reads their parts directly.
        public var concatsFusedIntoConvolutions = 0
        /// Pools of a channel Concat now run on its parts, the Concat joining their results instead.
        public var poolsMovedBeforeConcats = 0
        public var winogradConvolutions = 0
        /// Convolutions moved into the channel-blocked layout (`blockChannels`, run by the importer with shapes).
        public var channelBlockedConvolutions = 0
        /// MatMul, Softmax, MatMul chains (with their views and scales) run as one `Attention` (`fuseAttention`).
        public var fusedAttentions = 0
        /// Shapes of Transposes, Splits, Squeezes or Gathers now read through them (`readShapesThroughViews`).
        public var shapesReadThroughViews = 0
        /// Gathers of one row run with the row-local nodes before them on that row alone (`fuseGatheredRowRegions`).
        public var gatheredRowRegions = 0

        public init() {}
    }

    /// Largest constant-folding result kept (elements); larger ones are computed at run time.
    public static let foldLimit = 1 << 24

    /// `packWeights: false` leaves the convolutions' weights unpacked, for a caller that first
    /// moves some of them to the blocked layout (`blockChannels`, which needs the shapes) and
    /// then calls `packConvolutionWeights` on the rest, so no weights are packed twice.
    public static func optimize(nodes: [NodeSpec], constants: inout [String: Tensor], outputs: [ValueInfo],
                                packWeights: Bool = true) throws -> ([NodeSpec], Report) {
        var report = Report()
        let outputNames = Set(outputs.map(\.name))
        var nodes = removePassThroughs(nodes, outputNames: outputNames, report: &report)
        nodes = try foldConstants(nodes, constants: &constants, report: &report)
        nodes = try foldBatchNorms(nodes, constants: &constants, outputNames: outputNames, report: &report)
        nodes = fuseDecomposedLayerNorms(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = foldPadsIntoConvolutions(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = fuseResidualAdds(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = fuseActivations(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = fuseBatchNormsIntoConcats(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = movePoolsBeforeConcats(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = fuseConcatsIntoPointwiseConvs(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = removeDeadNodes(nodes, constants: &constants, outputNames: outputNames, report: &report)
        if packWeights { nodes = packConvolutionWeights(nodes, constants: constants, report: &report) }
        nodes = packMatMulWeights(nodes, constants: constants, report: &report)
        nodes = fuseMatMulBiases(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = fuseMatMulResiduals(nodes, constants: constants, outputNames: outputNames, report: &report)
        nodes = fuseLayerNormsIntoMatMuls(nodes, constants: constants, outputNames: outputNames, report: &report)
        // Again: a MatMul's activation follows its bias Add, which is only now folded.
        nodes = fuseActivations(nodes, constants: constants, outputNames: outputNames, report: &report)
        return (nodes, report)
    }

    /// For each value, the nodes that read it (a node reading it twice is listed twice).
    static func readerIndex(_ nodes: [NodeSpec]) -> [String: [Int]] {
        var readers: [String: [Int]] = [:]
        for (n, node) in nodes.enumerated() { for input in node.inputs where !input.isEmpty { readers[input, default: []].append(n) } }
        return readers
    }

    /// For each value, the node that writes it.
    static func producerIndex(_ nodes: [NodeSpec]) -> [String: Int] {
        var producer: [String: Int] = [:]
        for (n, node) in nodes.enumerated() { for output in node.outputs where !output.isEmpty { producer[output] = n } }
        return producer
    }

    /// Identity, and Dropout without its mask: readers of the output read the input instead.
    static func removePassThroughs(_ nodes: [NodeSpec], outputNames: Set<String>, report: inout Report) -> [NodeSpec] {
        var alias: [String: String] = [:]
        var kept: [NodeSpec] = []
        for node in nodes {
            if let identity = node.op as? Identity, !identity.producesMask, node.inputs.count == 1, let input = node.inputs.first,
               !input.isEmpty, let output = node.outputs.first, !outputNames.contains(output) {
                alias[output] = input
                report.removedPassThroughs += 1
            } else {
                kept.append(node)
            }
        }
        func resolve(_ name: String) -> String {
            var current = name, steps = 0
            while let next = alias[current], steps < alias.count { current = next; steps += 1 }
            return current
        }
        return kept.map { node in
            var copy = node
            copy.inputs = node.inputs.map { $0.isEmpty ? $0 : resolve($0) }
            return copy
        }
    }

    /// Evaluates every node whose inputs are all constant, in dependency order (a worklist).
    static func foldConstants(_ nodes: [NodeSpec], constants: inout [String: Tensor], report: inout Report) throws -> [NodeSpec] {
        var readers: [String: [Int]] = [:]
        var missing = [Int](repeating: 0, count: nodes.count)
        for (n, node) in nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty {
                if constants[input] == nil { missing[n] += 1; readers[input, default: []].append(n) }
            }
        }
        var ready = (0..<nodes.count).filter { missing[$0] == 0 }
        var folded = Set<Int>()
        while let n = ready.popLast() {
            let node = nodes[n]
            let inputs = node.inputs.map { $0.isEmpty ? nil : constants[$0] }
            let results: [Tensor]
            do {
                // Folding never allocates past foldLimit: a larger result is left to run time,
                // where the model's own limit decides.
                results = try ElementLimit.with(min(ElementLimit.current, foldLimit)) { try node.op.run(inputs) }
            } catch let e as ManakoError where e.code == .limitExceeded {
                continue
            } catch let e as ManakoError {
                throw e.inContext("node '\(node.name)' (\(node.opType)) on constant inputs")
            }
            guard results.allSatisfy({ $0.count <= foldLimit }) else { continue }
            folded.insert(n)
            report.foldedConstants += 1
            for (k, output) in node.outputs.enumerated() where !output.isEmpty && k < results.count {
                constants[output] = results[k]
                for reader in readers[output] ?? [] {
                    missing[reader] -= 1
                    if missing[reader] == 0 { ready.append(reader) }
                }
            }
        }
        return nodes.enumerated().filter { !folded.contains($0.offset) }.map(\.element)
    }

    /// Conv or Gemm followed by BatchNormalization, all parameters constant and the first
    /// output read by nothing else: the normalisation's scale and shift move into the weights.
    static func foldBatchNorms(_ nodes: [NodeSpec], constants: inout [String: Tensor], outputNames: Set<String>,
                               report: inout Report) throws -> [NodeSpec] {
        var readerCount: [String: Int] = [:]
        for node in nodes { for input in node.inputs where !input.isEmpty { readerCount[input, default: 0] += 1 } }
        let producer = producerIndex(nodes)
        var result = nodes
        var removed = Set<Int>()
        for (b, node) in nodes.enumerated() {
            guard let bn = node.op as? BatchNormalization, node.inputs.count == 5, node.outputs.count >= 1,
                  let p = producer[node.inputs[0]], !removed.contains(p),
                  readerCount[node.inputs[0]] == 1, !outputNames.contains(node.inputs[0]),
                  let parameters = try? node.inputs[1...4].map({ try constants[$0]?.floats() }), parameters.allSatisfy({ $0 != nil })
            else { continue }
            let (multiplier, offset) = BatchNormalization.affine(scale: parameters[0]!, bias: parameters[1]!, mean: parameters[2]!,
                                                                 variance: parameters[3]!, epsilon: bn.epsilon)
            var layer = result[p]
            guard let weights = layer.inputs.count > 1 ? constants[layer.inputs[1]] : nil, let w = try? weights.floats() else { continue }
            let bias = layer.inputs.count > 2 && !layer.inputs[2].isEmpty ? constants[layer.inputs[2]].flatMap { try? $0.floats() } : nil
            if layer.inputs.count > 2 && !layer.inputs[2].isEmpty && bias == nil { continue }
            let channels = multiplier.count
            var newWeights = w
            var newBias: [Float]
            if layer.op is Conv, weights.rank >= 3, weights.shape[0] == channels {
                let perFilter = w.count / channels
                for i in 0..<w.count { newWeights[i] = w[i] * multiplier[i / perFilter] }
                guard bias == nil || bias!.count == channels else { continue }
                newBias = (0..<channels).map { (bias?[$0] ?? 0) * multiplier[$0] + offset[$0] }
            } else if let gemm = layer.op as? Gemm, weights.rank == 2, gemm.beta == 1 || bias == nil {
                // Output column j scales by multiplier[j]: B's row j when transposed, else its column j.
                let columns = gemm.transB ? weights.shape[0] : weights.shape[1]
                guard columns == channels, bias == nil || bias!.count == channels || bias!.count == 1 else { continue }
                for i in 0..<w.count { newWeights[i] = w[i] * multiplier[gemm.transB ? i / weights.shape[1] : i % weights.shape[1]] }
                newBias = (0..<channels).map { j in (bias.map { $0.count == 1 ? $0[0] : $0[j] } ?? 0) * multiplier[j] + offset[j] }
                layer.op = Gemm(alpha: gemm.alpha, beta: 1, transA: gemm.transA, transB: gemm.transB)
            } else {
                continue
            }
            let weightName = "\(layer.name)::bn_folded_weights", biasName = "\(layer.name)::bn_folded_bias"
            constants[weightName] = Tensor(shape: weights.shape, floats: newWeights)
            constants[biasName] = Tensor(shape: [channels], floats: newBias)
            layer.inputs = [layer.inputs[0], weightName, biasName]
            layer.outputs = [node.outputs[0]]
            result[p] = layer
            removed.insert(b)
            report.foldedBatchNorms += 1
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// A constant-zero Pad of the spatial axes feeding only a Conv with explicit padding: the
    /// convolution pads instead (its kernels skip out-of-range taps), saving a copy of the tensor.
    static func foldPadsIntoConvolutions(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                         report: inout Report) -> [NodeSpec] {
        let readers = readerIndex(nodes)
        var result = nodes
        var removed = Set<Int>()
        for (p, node) in nodes.enumerated() {
            guard let pad = node.op as? Pad, pad.mode == .constant, node.outputs.count == 1, let output = node.outputs.first,
                  !outputNames.contains(output), let consumers = readers[output], consumers.count == 1,
                  let c = consumers.first, !removed.contains(c), result[c].inputs.first == output,
                  result[c].inputs.dropFirst().allSatisfy({ $0 != output }), var conv = result[c].op as? Conv, conv.autoPad == .explicit
            else { continue }
            // Pads and value must be known now (attributes or constant inputs 1 and 2); no axes input.
            var optional: [Tensor?] = []
            var known = true
            for i in 1...3 {
                if i < node.inputs.count, !node.inputs[i].isEmpty {
                    guard let t = constants[node.inputs[i]] else { known = false; break }
                    optional.append(t)
                } else {
                    optional.append(nil)
                }
            }
            guard known, optional[2] == nil,
                  let padList = (try? optional[0]?.int64s().map { Int($0) }) ?? pad.staticPads,
                  ((try? optional[1]?.floats().first) ?? pad.staticValue) == 0 else { continue }
            let rank = padList.count / 2
            guard rank == 3 || rank == 4, padList.allSatisfy({ $0 >= 0 }),
                  padList[0] == 0, padList[1] == 0, padList[rank] == 0, padList[rank + 1] == 0 else { continue }
            let spatial = rank - 2
            let existing = conv.pads ?? Array(repeating: 0, count: 2 * spatial)
            guard existing.count == 2 * spatial else { continue }
            conv.pads = (0..<(2 * spatial)).map { i in existing[i] + (i < spatial ? padList[2 + i] : padList[rank + 2 + (i - spatial)]) }
            result[c].op = conv
            result[c].inputs[0] = node.inputs[0]
            removed.insert(p)
            report.foldedPads += 1
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// Conv or BatchNormalization followed by Relu, Clip (constant bounds), HardSwish, or SiLU written as
    /// Mul(x, Sigmoid(x)), the convolution's output read by nothing else: the activation runs in
    /// the convolution's epilogue, in place.
    static func fuseActivations(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                report: inout Report) -> [NodeSpec] {
        let readers = readerIndex(nodes)
        var result = nodes
        var removed = Set<Int>()
        for (p, producerNode) in nodes.enumerated() {
            guard var conv = producerNode.op as? any ActivationFusing, conv.activation == .none, producerNode.outputs.count == 1,
                  let c = producerNode.outputs.first, !outputNames.contains(c), let users = readers[c] else { continue }
            var absorbed: [Int] = []
            var finalOutput: String? = nil
            if users.count == 1, let a = users.first, nodes[a].outputs.count == 1, nodes[a].inputs.first == c {
                let node = nodes[a]
                if node.op is Relu {
                    conv.activation = .relu
                } else if let gelu = node.op as? Gelu, !gelu.tanhApproximation {
                    conv.activation = .gelu
                } else if node.op is HardSwish {
                    conv.activation = .hardSwish
                } else if let clip = node.op as? Clip {
                    // A bound is the attribute default when absent, a constant scalar otherwise (nil: not fusable).
                    func bound(_ i: Int, _ fallback: Float) -> Float? {
                        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return fallback }
                        guard let v = try? constants[node.inputs[i]]?.floats(), v.count == 1 else { return nil }
                        return v[0]
                    }
                    guard let lo = bound(1, clip.defaultMin), let hi = bound(2, clip.defaultMax) else { continue }
                    conv.activation = .clip(min: lo, max: hi)
                } else {
                    continue
                }
                absorbed = [a]
                finalOutput = node.outputs[0]
            } else if users.count == 2, let (chain, output) = exactGeluPattern(from: c, users: users, nodes: nodes, readers: readers,
                                                                                constants: constants, outputNames: outputNames) {
                conv.activation = .gelu
                absorbed = chain
                finalOutput = output
            } else if users.count == 2 {
                // SiLU: one reader is Sigmoid(c), the other Mul(c, s) or Mul(s, c), s read only by the Mul.
                let (first, second) = (users[0], users[1])
                let (sig, mul) = nodes[first].op is Sigmoid ? (first, second) : (second, first)
                guard nodes[sig].op is Sigmoid, nodes[mul].op is Mul, nodes[sig].outputs.count == 1,
                      let s = nodes[sig].outputs.first, readers[s] == [mul], !outputNames.contains(s),
                      Set(nodes[mul].inputs) == [c, s], nodes[mul].outputs.count == 1 else { continue }
                conv.activation = .silu
                absorbed = [sig, mul]
                finalOutput = nodes[mul].outputs[0]
            } else {
                continue
            }
            guard let finalOutput, absorbed.allSatisfy({ !removed.contains($0) }) else { continue }
            result[p].op = conv
            result[p].outputs = [finalOutput]
            removed.formUnion(absorbed)
            report.fusedActivations += 1
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// LayerNorm over the last axis as torch writes it below opset 17:
    /// m = ReduceMean(x, [-1]); d = Sub(x, m); v = ReduceMean(Pow(d, 2) or Mul(d, d), [-1]);
    /// y = Div(d, Sqrt(Add(v, eps))), then Mul by a constant scale and optionally Add a constant
    /// bias. Every intermediate is read only inside the pattern. Becomes one LayerNormalization
    /// (one pass over each row instead of nine tensors), as ONNX Runtime does at load.
    static func fuseDecomposedLayerNorms(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                         report: inout Report) -> [NodeSpec] {
        let readers = readerIndex(nodes)
        func scalar(_ name: String) -> Float? {
            guard let v = try? constants[name]?.floats(), v.count == 1 else { return nil }
            return v[0]
        }
        /// The readers of node n's one output, when it is not a graph output.
        func readersOf(_ n: Int) -> [Int]? {
            guard nodes[n].outputs.count == 1, let out = nodes[n].outputs.first, !outputNames.contains(out) else { return nil }
            return readers[out]
        }
        func onlyReader(_ n: Int) -> Int? { readersOf(n).flatMap { $0.count == 1 ? $0[0] : nil } }
        /// A ReduceMean over the last axis only, keeping it.
        func meanOverLastAxis(_ n: Int) -> Bool {
            guard let mean = nodes[n].op as? ReduceMean, mean.keepDims, nodes[n].outputs.count == 1 else { return false }
            let axes = nodes[n].inputs.count > 1 && !nodes[n].inputs[1].isEmpty
                ? (try? constants[nodes[n].inputs[1]]?.int64s().map(Int.init)) ?? nil : mean.staticAxes
            return axes == [-1]
        }
        func other(_ n: Int, than value: String) -> String? {
            let inputs = nodes[n].inputs
            guard inputs.count == 2 else { return nil }
            return inputs[0] == value ? inputs[1] : (inputs[1] == value ? inputs[0] : nil)
        }
        var result = nodes
        var removed = Set<Int>()
        for (m1, node) in nodes.enumerated() where meanOverLastAxis(m1) {
            let x = node.inputs[0], m = node.outputs[0]
            guard let sub = onlyReader(m1), nodes[sub].op is Sub, nodes[sub].inputs == [x, m],
                  let dReaders = readersOf(sub), let d = nodes[sub].outputs.first else { continue }
            // d is read by the square (Pow(d, 2), or Mul(d, d) listed twice) and by the Div.
            let distinct = Array(Set(dReaders)).sorted()
            guard distinct.count == 2 else { continue }
            let (square, div) = nodes[distinct[0]].op is Div ? (distinct[1], distinct[0]) : (distinct[0], distinct[1])
            let isSquare = (nodes[square].op is Pow && nodes[square].inputs.first == d && scalar(nodes[square].inputs[1]) == 2)
                || (nodes[square].op is Mul && nodes[square].inputs == [d, d])
            guard isSquare, nodes[div].op is Div, nodes[div].inputs.first == d,
                  let m2 = onlyReader(square), meanOverLastAxis(m2), nodes[m2].inputs[0] == nodes[square].outputs[0],
                  let add = onlyReader(m2), nodes[add].op is Add,
                  let epsilon = other(add, than: nodes[m2].outputs[0]).flatMap(scalar),
                  let sqrt = onlyReader(add), nodes[sqrt].op is Sqrt,
                  onlyReader(sqrt) == div, nodes[div].inputs.count == 2, nodes[div].inputs[1] == nodes[sqrt].outputs[0],
                  let mul = onlyReader(div), nodes[mul].op is Mul,
                  let scale = other(mul, than: nodes[div].outputs[0]), let gamma = constants[scale], gamma.rank <= 1
            else { continue }
            var chain = [m1, sub, square, m2, add, sqrt, div, mul]
            var inputs = [x, scale], output = nodes[mul].outputs[0]
            if let bias = onlyReader(mul), nodes[bias].op is Add, let b = other(bias, than: output),
               let beta = constants[b], beta.rank <= 1 {
                chain.append(bias)
                inputs.append(b)
                output = nodes[bias].outputs[0]
            }
            guard chain.allSatisfy({ !removed.contains($0) }) else { continue }
            result[m1] = NodeSpec(name: nodes[m1].name, opType: "LayerNormalization", op: LayerNormalization(axis: -1, epsilon: epsilon),
                                  inputs: inputs, outputs: [output])
            removed.formUnion(chain.dropFirst())
            report.fusedLayerNorms += 1
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// GELU as torch exports it: Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), either operand
    /// order in the Adds and Muls, each intermediate read only by the next node. Returns the five
    /// nodes and the final output, or nil.
    static func exactGeluPattern(from x: String, users: [Int], nodes: [NodeSpec], readers: [String: [Int]],
                                 constants: [String: Tensor], outputNames: Set<String>) -> ([Int], String)? {
        func scalar(_ name: String) -> Float? {
            guard let v = try? constants[name]?.floats(), v.count == 1 else { return nil }
            return v[0]
        }
        func close(_ value: Float?, _ expected: Float) -> Bool { value.map { abs($0 - expected) <= 1e-4 * abs(expected) } ?? false }
        /// The other input of a two-input node that reads `value`.
        func other(_ n: Int, than value: String) -> String? {
            let inputs = nodes[n].inputs
            guard inputs.count == 2, nodes[n].outputs.count == 1 else { return nil }
            return inputs[0] == value ? inputs[1] : (inputs[1] == value ? inputs[0] : nil)
        }
        /// The single reader of a node's output, not a graph output.
        func onlyReader(_ n: Int) -> Int? {
            guard nodes[n].outputs.count == 1, let out = nodes[n].outputs.first, !outputNames.contains(out),
                  let r = readers[out], r.count == 1 else { return nil }
            return r[0]
        }
        let (first, second) = (users[0], users[1])
        let (div, mul) = nodes[first].op is Div ? (first, second) : (second, first)
        guard nodes[div].op is Div, nodes[div].inputs.first == x, nodes[div].inputs.count == 2,
              close(scalar(nodes[div].inputs[1]), 1.4142135), nodes[mul].op is Mul,
              let erf = onlyReader(div), nodes[erf].op is Erf,
              let add = onlyReader(erf), nodes[add].op is Add, close(scalar(other(add, than: nodes[erf].outputs[0]) ?? ""), 1),
              let addOut = nodes[add].outputs.first, other(mul, than: x) == addOut, onlyReader(add) == mul,
              let half = onlyReader(mul), nodes[half].op is Mul, close(scalar(other(half, than: nodes[mul].outputs[0]) ?? ""), 0.5)
        else { return nil }
        return ([div, erf, add, mul, half], nodes[half].outputs[0])
    }

    /// Add(Conv(...), r) where the convolution's output is read by nothing else: r becomes the
    /// convolution's fourth input, added in its epilogue (ResNet's shortcut), so a following Relu
    /// then fuses too. A constant r is left alone (that is a bias).
    static func fuseResidualAdds(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                 report: inout Report) -> [NodeSpec] {
        let (result, fused) = absorbResiduals(nodes, constants: constants, outputNames: outputNames, asInput: 3) { op in
            guard var conv = op as? Conv, conv.activation == .none, !conv.addsResidual else { return false }
            conv.addsResidual = true
            op = conv
            return true
        }
        report.fusedResiduals += fused
        return result
    }

    /// What the residual fusions share: Add(y, r) with r computed (a constant is a bias) and not
    /// y itself makes r the producer's input `index` (inputs before it left empty where missing)
    /// when `take` accepts the producer's operator and marks it as adding the residual.
    static func absorbResiduals(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>, asInput index: Int,
                                _ take: (_ op: inout any Operator) -> Bool) -> ([NodeSpec], Int) {
        absorbAdds(nodes, outputNames: outputNames) { producer, value, r in
            guard value != r, constants[r] == nil, producer.inputs.count <= index, take(&producer.op) else { return false }
            while producer.inputs.count < index { producer.inputs.append("") }
            producer.inputs.append(r)
            return true
        }
    }

    /// The walk the Add fusions share: for Add(y, other) in either operand order, where y is the
    /// only output of its producer and read by nothing but the Add (nor a graph output), `absorb`
    /// may rewrite the producer to take the Add in (returning true); the producer then writes
    /// the Add's output and the Add goes. Returns the nodes and how many Adds were absorbed.
    static func absorbAdds(_ nodes: [NodeSpec], outputNames: Set<String>,
                           _ absorb: (_ producer: inout NodeSpec, _ value: String, _ other: String) -> Bool) -> ([NodeSpec], Int) {
        let (readers, producer) = (readerIndex(nodes), producerIndex(nodes))
        var result = nodes
        var removed = Set<Int>()
        for (a, add) in nodes.enumerated() where add.op is Add && add.inputs.count == 2 && add.outputs.count == 1 {
            for side in 0..<2 {
                let y = add.inputs[side], other = add.inputs[1 - side]
                guard let p = producer[y], !removed.contains(p), !removed.contains(a), result[p].outputs == [y],
                      readers[y] == [a], !outputNames.contains(y) else { continue }
                var candidate = result[p]
                guard absorb(&candidate, y, other) else { continue }
                candidate.outputs = add.outputs
                result[p] = candidate
                removed.insert(a)
                break
            }
        }
        return (result.enumerated().filter { !removed.contains($0.offset) }.map(\.element), removed.count)
    }

    /// Packs the weights of every convolution with constant weights that takes the GEMM path,
    /// once, into the layout of `PanelGemm`.
    public static func packConvolutionWeights(_ nodes: [NodeSpec], constants: [String: Tensor], report: inout Report) -> [NodeSpec] {
        nodes.map { node in
            guard var conv = node.op as? Conv, node.inputs.count > 1, let w = constants[node.inputs[1]],
                  let values = try? w.floats(), w.rank >= 3, conv.group >= 1, w.shape[0] % conv.group == 0 else { return node }
            let depthwise = w.shape[1] == 1 && conv.group == w.shape[0] && !conv.addsResidual
            if depthwise { return node }
            let patch = w.shape.dropFirst().reduce(1, *)
            let ones = [Int](repeating: 1, count: w.rank - 2)
            let strides = conv.strides ?? ones, dilations = conv.dilations ?? ones
            if w.rank == 4, strides.count == 2, dilations.count == 2,
               WinogradKernel.applies(kernel: (w.shape[2], w.shape[3]), strides: (strides[0], strides[1]),
                                      dilations: (dilations[0], dilations[1]), groups: conv.group,
                                      inChannels: w.shape[1], outChannels: w.shape[0]) {
                conv.winogradWeights = WinogradKernel.transformWeights(values, outChannels: w.shape[0], inChannels: w.shape[1])
                report.winogradConvolutions += 1
            }
            // SAME padding depends on the input size: never taken as unpadded here.
            let knownPads = conv.autoPad == .explicit ? conv.pads ?? [] : conv.autoPad == .valid ? [] : nil
            if w.rank == 4, let knownPads, PatchConvKernel.fits(kernel: Array(w.shape[2...]), strides: strides, dilations: dilations,
                                                                pads: knownPads, groups: conv.group) {
                conv.patchWeights = PatchConvKernel.packWeights(values, outChannels: w.shape[0], patch: patch)
            }
            // Also for Winograd layers: small outputs take the GEMM path at run time.
            conv.packedWeights = ConvKernels.packWeights(values, outChannels: w.shape[0], groups: conv.group, patch: patch)
            report.packedConvolutions += 1
            var copy = node
            copy.op = conv
            return copy
        }
    }

    /// Packs every constant 2-D B of a MatMul, once, for `PackedBGemm`.
    static func packMatMulWeights(_ nodes: [NodeSpec], constants: [String: Tensor], report: inout Report) -> [NodeSpec] {
        nodes.map { node in
            guard var matMul = node.op as? MatMul, node.inputs.count > 1, let b = constants[node.inputs[1]], b.rank == 2,
                  let values = try? b.floats() else { return node }
            matMul.packedB = values.withUnsafeBufferPointer { PackedBGemm.PackedB($0.baseAddress!, depth: b.shape[0], columns: b.shape[1]) }
            report.packedMatMuls += 1
            var copy = node
            copy.op = matMul
            return copy
        }
    }

    /// BatchNormalization (with its fused activation) of a Concat on axis 1 whose output nothing
    /// else reads: the Concat applies it per channel while copying, which saves a pass over the
    /// whole tensor (DenseNet's 58 pre-activation BatchNormalizations).
    static func fuseBatchNormsIntoConcats(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                          report: inout Report) -> [NodeSpec] {
        let (readers, producer) = (readerIndex(nodes), producerIndex(nodes))
        var result = nodes
        var removed = Set<Int>()
        for (b, node) in nodes.enumerated() {
            guard let bn = node.op as? BatchNormalization, node.inputs.count == 5, node.outputs.count == 1,
                  let p = producer[node.inputs[0]], !removed.contains(p), var concat = result[p].op as? Concat,
                  concat.axis == 1, concat.channelAffine == nil, result[p].outputs.count == 1,
                  readers[node.inputs[0]] == [b], !outputNames.contains(node.inputs[0]),
                  let parameters = try? node.inputs[1...4].map({ try constants[$0]?.floats() }),
                  let scale = parameters[0], let bias = parameters[1], let mean = parameters[2], let variance = parameters[3],
                  Set([scale.count, bias.count, mean.count, variance.count]).count == 1 else { continue }
            let (multiplier, offset) = BatchNormalization.affine(scale: scale, bias: bias, mean: mean, variance: variance,
                                                                 epsilon: bn.epsilon)
            concat.channelAffine = Concat.ChannelAffine(multiplier: multiplier, offset: offset, activation: bn.activation)
            result[p].op = concat
            result[p].outputs = node.outputs
            removed.insert(b)
            report.batchNormsFusedIntoConcats += 1
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// MaxPool or AveragePool of a Concat on channels (SqueezeNet's fire modules, Inception's
    /// blocks), the Concat read by nothing else: each part is pooled on its own and the Concat joins
    /// the pooled parts, a quarter of the size at stride 2. Pooling works channel by channel, so the
    /// result is the same; and when a 1x1 convolution reads the new Concat, it reads the pooled parts
    /// in place (`fuseConcatsIntoPointwiseConvs`), so the join is never written at all.
    static func movePoolsBeforeConcats(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                       report: inout Report) -> [NodeSpec] {
        let (readers, producer) = (readerIndex(nodes), producerIndex(nodes))
        var replaced: [Int: [NodeSpec]] = [:]
        var removed = Set<Int>()
        for (n, node) in nodes.enumerated() {
            guard node.op is MaxPool || node.op is AveragePool, node.inputs.count == 1, node.outputs.count == 1,
                  let p = producer[node.inputs[0]], !removed.contains(p), replaced[p] == nil,
                  let concat = nodes[p].op as? Concat, concat.axis == 1, concat.channelAffine == nil, nodes[p].outputs.count == 1,
                  nodes[p].inputs.count > 1, !nodes[p].inputs.contains(""), nodes[p].inputs.allSatisfy({ constants[$0] == nil }),
                  readers[node.inputs[0]] == [n], !outputNames.contains(node.inputs[0]) else { continue }
            let pools = nodes[p].inputs.enumerated().map { i, part in
                NodeSpec(name: "\(node.name)/part\(i)", opType: node.opType, op: node.op, inputs: [part],
                         outputs: ["\(node.outputs[0])/part\(i)"])
            }
            var join = nodes[p]
            join.inputs = pools.map { $0.outputs[0] }
            join.outputs = node.outputs
            replaced[n] = pools + [join]
            removed.insert(p)
            report.poolsMovedBeforeConcats += 1
        }
        return nodes.enumerated().flatMap { n, node in removed.contains(n) ? [] : replaced[n] ?? [node] }
    }

    /// A float Concat on axis 1 (with or without a fused BatchNormalization) whose only reader is
    /// a 1x1 convolution (one group, no padding, unit stride, W constant, no residual) taking it
    /// as X: the convolution reads the parts where they are (`Conv.inputParts`), applying the
    /// Concat's per-channel affine as its GEMM packs them, and the joined tensor is never written.
    static func fuseConcatsIntoPointwiseConvs(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                              report: inout Report) -> [NodeSpec] {
        let (readers, producer) = (readerIndex(nodes), producerIndex(nodes))
        var result = nodes
        var removed = Set<Int>()
        for (n, node) in nodes.enumerated() {
            guard var conv = node.op as? Conv, conv.inputParts == 1, conv.inputAffine == nil, !conv.addsResidual, conv.group == 1,
                  node.inputs.count >= 2, node.inputs.count <= 3, let p = producer[node.inputs[0]], !removed.contains(p),
                  let concat = nodes[p].op as? Concat, concat.axis == 1, nodes[p].outputs.count == 1,
                  !nodes[p].inputs.isEmpty, !nodes[p].inputs.contains(""), readers[node.inputs[0]] == [n],
                  !outputNames.contains(node.inputs[0]), let w = constants[node.inputs[1]], w.elementType == .float32,
                  w.rank == 4, w.shape[2] == 1, w.shape[3] == 1, (conv.kernelShape ?? [1, 1]) == [1, 1],
                  (conv.strides ?? [1, 1]).allSatisfy({ $0 == 1 }), (conv.pads ?? [0, 0, 0, 0]).allSatisfy({ $0 == 0 }),
                  conv.autoPad == .explicit || conv.autoPad == .valid,
                  nodes[p].inputs.allSatisfy({ constants[$0] == nil }) else { continue }
            let parts = nodes[p].inputs
            conv.inputParts = parts.count
            conv.inputAffine = concat.channelAffine
            result[n].op = conv
            var inputs = [parts[0], node.inputs[1], node.inputs.count > 2 ? node.inputs[2] : "", ""]
            inputs += parts.dropFirst()
            result[n].inputs = inputs
            removed.insert(p)
            report.concatsFusedIntoConvolutions += 1
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// Add(MatMul(A, B), c) with B packed and c a constant vector over B's columns (shape [N],
    /// [1, N], ...), the MatMul's output read by nothing else: c becomes the MatMul's column
    /// bias, added in the GEMM's epilogue (the projections of transformers).
    static func fuseMatMulBiases(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                 report: inout Report) -> [NodeSpec] {
        let (result, fused) = absorbAdds(nodes, outputNames: outputNames) { producer, _, c in
            guard let bias = constants[c], let values = try? bias.floats(), var matMul = producer.op as? MatMul,
                  let packed = matMul.packedB, matMul.columnBias == nil, values.count == packed.columns,
                  bias.shape.last == packed.columns, bias.shape.dropLast().allSatisfy({ $0 == 1 }), bias.rank <= 2 else { return false }
            matMul.columnBias = values
            producer.op = matMul
            return true
        }
        report.fusedMatMulBiases += fused
        return result
    }

    /// Add(MatMul(A, B), r) with B packed, r not a constant and the MatMul's output read by
    /// nothing else, nor activated: r becomes the MatMul's third input, added as each tile is
    /// stored (a transformer's shortcut after its projection and fc2). After the bias fusion, as
    /// a graph adds the bias first.
    static func fuseMatMulResiduals(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                    report: inout Report) -> [NodeSpec] {
        let (result, fused) = absorbResiduals(nodes, constants: constants, outputNames: outputNames, asInput: 2) { op in
            guard var matMul = op as? MatMul, matMul.packedB != nil, !matMul.addsResidual, matMul.activation == .none else { return false }
            matMul.addsResidual = true
            op = matMul
            return true
        }
        report.fusedMatMulResiduals += fused
        return result
    }

    /// LayerNormalization over the last axis (Scale and B constant vectors, Mean and InvStdDev
    /// unread) whose output only a MatMul with packed weights reads, as A (and Shapes, which then
    /// read the LayerNormalization's X, of the same shape): the MatMul normalises
    /// A's rows itself as its GEMM reaches them (`MatMul.inputNorm`), with the same arithmetic, so
    /// the same bits; the normalised tensor is never written (a pre-norm transformer's qkv and fc1).
    static func fuseLayerNormsIntoMatMuls(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                                          report: inout Report) -> [NodeSpec] {
        let readers = readerIndex(nodes)
        var result = nodes
        var removed = Set<Int>()
        for (n, node) in nodes.enumerated() {
            guard let norm = node.op as? LayerNormalization, norm.axis == -1, node.inputs.count >= 2, let y = node.outputs.first,
                  !outputNames.contains(y), node.outputs.dropFirst().allSatisfy({ $0.isEmpty || (readers[$0] == nil && !outputNames.contains($0)) }),
                  case let users = (readers[y] ?? []).filter({ !(nodes[$0].op is ShapeOf) }), users.count == 1, let m = users.first,
                  var matMul = nodes[m].op as? MatMul, nodes[m].inputs.first == y, nodes[m].inputs.dropFirst().allSatisfy({ $0 != y }),
                  let packed = matMul.packedB, matMul.inputNorm == nil,
                  let scale = try? constants[node.inputs[1]]?.floats(), scale.count == packed.depth,
                  constants[node.inputs[1]]?.rank == 1 else { continue }
            var bias: [Float]?
            if node.inputs.count > 2 && !node.inputs[2].isEmpty {
                guard let values = try? constants[node.inputs[2]]?.floats(), values.count == packed.depth,
                      constants[node.inputs[2]]?.rank == 1 else { continue }
                bias = values
            }
            matMul.inputNorm = MatMul.InputNorm(epsilon: norm.epsilon, scale: scale, bias: bias)
            result[m].op = matMul
            result[m].inputs[0] = node.inputs[0]
            // Shapes of the normalised tensor (an attention's `B, N, C = x.shape`) read X's: the same.
            for s in readers[y] ?? [] where nodes[s].op is ShapeOf { result[s].inputs[0] = node.inputs[0] }
            removed.insert(n)
            report.layerNormsFusedIntoMatMuls += 1
        }
        return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// Convolutions prepared for both Winograd and the GEMM keep only the one their inferred
    /// output size selects (Winograd needs `WinogradKernel.minimumTiles` tiles); where the
    /// spatial size is not known at load, both stay. Returns whether any node changed.
    /// Where the output's spatial size is known, W itself is dropped too (the convolution keeps
    /// its shape), and with it the constant once nothing else reads it: the original weights
    /// would otherwise stay next to their prepared copy.
    public static func keepPreparedWeightsInUse(_ nodes: [NodeSpec], shapes: [String: [Int?]],
                                                constants: inout [String: Tensor], outputs: [ValueInfo]) -> ([NodeSpec], Bool) {
        var changed = false
        let result = nodes.map { node -> NodeSpec in
            // A MatMul's packed B serves every shape of A: B itself is never needed again.
            if let matMul = node.op as? MatMul, matMul.packedB != nil, node.inputs.count > 1, !node.inputs[1].isEmpty {
                changed = true
                var copy = node
                copy.inputs[1] = ""
                return copy
            }
            guard var conv = node.op as? Conv, conv.winogradWeights != nil || conv.packedWeights != nil, node.inputs.count > 1,
                  let w = constants[node.inputs[1]], let output = node.outputs.first, let shape = shapes[output],
                  shape.count == 4, let height = shape[2], let width = shape[3] else { return node }
            let winograd = (height + 3) / 4 * ((width + 3) / 4) >= WinogradKernel.minimumTiles && conv.winogradWeights != nil
            if winograd { conv.packedWeights = nil } else { conv.winogradWeights = nil }
            // A residual of another shape takes the unfused route, which needs the GEMM form.
            let residualFits = !conv.addsResidual || (node.inputs.count > 3 && shapes[node.inputs[3]] == shape)
            var copy = node
            if conv.packedWeights != nil || (winograd && residualFits) {
                conv.weightShape = w.shape
                copy.inputs[1] = ""
            }
            guard conv.packedWeights != nil || conv.winogradWeights != nil else { return node }
            changed = true
            copy.op = conv
            return copy
        }
        if changed {
            let read = Set(result.flatMap(\.inputs)).union(outputs.map(\.name))
            constants = constants.filter { read.contains($0.key) }
        }
        return (result, changed)
    }

    /// Drops nodes no graph output depends on, and constants nothing reads.
    static func removeDeadNodes(_ nodes: [NodeSpec], constants: inout [String: Tensor], outputNames: Set<String>,
                                report: inout Report) -> [NodeSpec] {
        let producer = producerIndex(nodes)
        var live = Set<Int>()
        var pending = outputNames.compactMap { producer[$0] }
        while let n = pending.popLast() {
            guard live.insert(n).inserted else { continue }
            for input in nodes[n].inputs where !input.isEmpty { if let p = producer[input] { pending.append(p) } }
        }
        let kept = nodes.enumerated().filter { live.contains($0.offset) }.map(\.element)
        report.removedDeadNodes += nodes.count - kept.count
        let read = Set(kept.flatMap(\.inputs)).union(outputNames)
        constants = constants.filter { read.contains($0.key) }
        return kept
    }
}
