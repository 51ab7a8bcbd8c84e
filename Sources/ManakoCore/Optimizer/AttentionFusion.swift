extension GraphOptimizer {
    /// Fuses each MatMul(Softmax(scale · MatMul(Q, Kᵀ) [+ bias]), V) into one `Attention` node,
    /// where the Softmax is over the last axis, the bias any value added to the scaled scores
    /// (Swin's position bias), the scale any number of Muls and Divs by values shown to hold one
    /// number (on the scores, Q or Kᵀ), and the scores and their softmax have no other readers. Q, Kᵀ and V are followed back through the
    /// Transposes, Splits, Squeezes and Gathers that only view them, and a Transpose that swaps
    /// the output's heads and rows is absorbed, so the node reads the QKV projection's output
    /// in place and writes what the next projection reads. Needs no shapes: the views are
    /// resolved, and checked, on each run. The nodes it leaves without readers are for
    /// `removeDeadNodes`.
    static func fuseAttention(_ nodes: [NodeSpec], constants: [String: Tensor], outputNames: Set<String>,
                              report: inout Report) -> [NodeSpec] {
        let readers = readerIndex(nodes), producer = producerIndex(nodes)
        func onlyReader(_ value: String) -> Int? {
            guard !outputNames.contains(value), let users = readers[value], users.count == 1 else { return nil }
            return users[0]
        }
        func constantInts(_ value: String) -> [Int]? { GraphOptimizer.constantInts(value, constants) }
        /// Whether `value` surely holds one number, of rank 0 or 1 (so multiplying by it changes
        /// no shape): a constant, an arithmetic of such, or one entry of a Shape (how torch
        /// exports attention's 1/sqrt(depth) for a dynamic batch).
        func holdsOneNumber(_ value: String, depth: Int = 0) -> Bool {
            if let c = constants[value] { return c.count == 1 && c.rank <= 1 }
            guard depth < 12, let p = producer[value] else { return false }
            let node = nodes[p], op = node.op
            if op is Cast || op is Sqrt || op is Reciprocal || op is Neg || op is Exp || op is Identity {
                return node.inputs.count >= 1 && holdsOneNumber(node.inputs[0], depth: depth + 1)
            }
            if op is Mul || op is Div || op is Add || op is Sub {
                return node.inputs.count == 2 && node.inputs.allSatisfy { holdsOneNumber($0, depth: depth + 1) }
            }
            if op is StridedSlice, node.inputs.count >= 3, let source = producer[node.inputs[0]], nodes[source].op is ShapeOf,
               let starts = constantInts(node.inputs[1]), let ends = constantInts(node.inputs[2]), starts.count == 1, ends.count == 1,
               node.inputs.count < 4 || node.inputs[3].isEmpty || constantInts(node.inputs[3]) == [0],
               node.inputs.count < 5 || node.inputs[4].isEmpty || constantInts(node.inputs[4]) == [1] {
                // One entry: the last (start -1 to the end) or start ..< start + 1 counted from the front.
                return (starts[0] == -1 && ends[0] >= Int(Int32.max)) || (starts[0] >= 0 && ends[0] == starts[0] + 1)
            }
            return false
        }
        /// `value` without the Muls and Divs by one number that produced it: the value they
        /// scaled, and the factors (and whether each divides).
        func unscaled(_ value: String) -> (value: String, factors: [(String, Bool)]) {
            var current = value, factors: [(String, Bool)] = []
            while let p = producer[current], nodes[p].inputs.count == 2, nodes[p].outputs.count == 1, factors.count < 8 {
                let (a, b) = (nodes[p].inputs[0], nodes[p].inputs[1])
                if nodes[p].op is Mul, holdsOneNumber(b) {
                    factors.append((b, false)); current = a
                } else if nodes[p].op is Mul, holdsOneNumber(a) {
                    factors.append((a, false)); current = b
                } else if nodes[p].op is Div, holdsOneNumber(b) {
                    factors.append((b, true)); current = a
                } else {
                    break
                }
            }
            return (current, factors)
        }
        func operand(_ value: String, input: Int) -> (base: String, operand: Attention.Operand) {
            let (base, view) = tracedView(of: value, nodes: nodes, producer: producer, constants: constants)
            return (base, Attention.Operand(input: input, view: view))
        }

        var replaced: [Int: NodeSpec] = [:], absorbedTransposes = Set<Int>(), fused = 0
        for (n, node) in nodes.enumerated() {
            guard let product = node.op as? MatMul, product.packedB == nil, product.columnBias == nil, product.activation == .none,
                  node.inputs.count == 2, node.outputs.count == 1, let s = producer[node.inputs[0]], onlyReader(node.inputs[0]) == n,
                  let softmax = nodes[s].op as? Softmax, softmax.axis == -1, let scoresValue = nodes[s].inputs.first,
                  onlyReader(scoresValue) == s else { continue }
            // Softmax(Add(scores, bias)): the side whose unscaled producer is a MatMul is the scores.
            var biasValue: String? = nil, scores = unscaled(scoresValue)
            if let a = producer[scoresValue], nodes[a].op is Add, nodes[a].inputs.count == 2, nodes[a].outputs.count == 1 {
                let sides = nodes[a].inputs, candidates = sides.map(unscaled)
                guard let side = [0, 1].first(where: { x in
                    onlyReader(sides[x]) == a && producer[candidates[x].value].map { nodes[$0].op is MatMul } == true
                }) else { continue }
                (scores, biasValue) = (candidates[side], sides[1 - side])
            }
            guard let m = producer[scores.value], let first = nodes[m].op as? MatMul, first.packedB == nil, first.columnBias == nil,
                  first.activation == .none, nodes[m].inputs.count == 2 else { continue }
            let (queryValue, queryFactors) = unscaled(nodes[m].inputs[0]), (keyValue, keyFactors) = unscaled(nodes[m].inputs[1])
            let q = operand(queryValue, input: 0), kt = operand(keyValue, input: 1), v = operand(node.inputs[1], input: 2)
            var output = node.outputs[0], headsAfterRows = false
            if let t = onlyReader(output), let transpose = nodes[t].op as? Transpose, transpose.permutation == [0, 2, 1, 3],
               nodes[t].outputs.count == 1 {
                output = nodes[t].outputs[0]
                headsAfterRows = true
                absorbedTransposes.insert(t)
            }
            let factors = scores.factors + queryFactors + keyFactors
            let attention = Attention(query: q.operand, key: kt.operand, value: v.operand,
                                      scaleInputs: factors.indices.map { (3 + $0, factors[$0].1) }, headsAfterRows: headsAfterRows,
                                      biasInput: biasValue.map { _ in 3 + factors.count })
            replaced[n] = NodeSpec(name: node.name + " (attention)", opType: "Attention", op: attention,
                                   inputs: [q.base, kt.base, v.base] + factors.map(\.0) + (biasValue.map { [$0] } ?? []), outputs: [output])
            fused += 1
        }
        report.fusedAttentions += fused
        return nodes.enumerated().compactMap { n, node in absorbedTransposes.contains(n) ? nil : replaced[n] ?? node }
    }
}
