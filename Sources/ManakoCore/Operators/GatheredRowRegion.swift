/// A Gather of one row along axis 1 (a ViT's class token, `x[:, 0]`) and the row-local nodes
/// whose outputs only it reads, run on that row alone (`fuseGatheredRowRegions` builds it at
/// load). In DeiT the last block's projection, MLP, residual Adds and final LayerNorm feed only
/// the class token: cut to that row first, they multiply one row per image instead of 197.
///
/// Row-local: row t of a node's output (along axis -2) reads only row t of each input
/// (elementwise nodes, LayerNormalization over the last axis, MatMul by a packed 2-D B), so
/// the region's output is the same, bit for bit, when its inputs hold only the gathered row.
/// Checked on each run: the inputs have rank 3 at most and one of them 3 (so the Gather's
/// axis 1 is the row axis), and along axis -2 each has the same T rows or one (broadcast).
/// Otherwise, or with T = 1, the nodes run on every row, as unfused.
public struct GatheredRowRegion: Operator, PlanDescribing {
    /// The Gather's index (negative counts from the end).
    public let row: Int
    /// The region as it was, over every row.
    public let allRows: Graph
    /// The region with the Gather's index 0, for inputs cut to the one row.
    public let oneRow: Graph
    /// The nodes the region holds, for the plan.
    public let nodeCount: Int

    public init(row: Int, allRows: Graph, oneRow: Graph, nodeCount: Int) {
        self.row = row
        self.allRows = allRows
        self.oneRow = oneRow
        self.nodeCount = nodeCount
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let tensors = try allRows.inputs.indices.map { try inputs.required($0, allRows.inputs[$0].name) }
        func feeds(_ values: [Tensor]) -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: zip(allRows.inputs.map(\.name), values))
        }
        let output = allRows.outputs[0].name
        guard let rows = GatheredRowRegion.rows(of: tensors.map(\.shape)), rows > 1, -rows <= row, row < rows else {
            // Nothing to save, or the Gather's own error to give.
            return [try allRows.run(feeds(tensors))[output]!]
        }
        let index = Tensor(shape: [1], int64s: [Int64(row < 0 ? row + rows : row)])
        let cut = try tensors.map { t in
            t.rank >= 2 && t.shape[t.rank - 2] == rows ? try Gather(axis: t.rank - 2).run([t, index])[0] : t
        }
        return [try oneRow.run(feeds(cut))[output]!]
    }

    /// The rows T the inputs share along axis -2, or nil when the region cannot run on one
    /// row: an input of rank above 3, none of rank 3, or two row counts above one.
    static func rows(of shapes: [[Int]]) -> Int? {
        guard shapes.allSatisfy({ $0.count <= 3 }), shapes.contains(where: { $0.count == 3 }) else { return nil }
        let counts = Set(shapes.filter { $0.count >= 2 }.map { $0[$0.count - 2] }).subtracting([1])
        guard counts.count <= 1 else { return nil }
        return counts.first ?? 1
    }

    public func plan(_ inputs: [Tensor?]) -> String {
        let rows = GatheredRowRegion.rows(of: inputs.compactMap { $0?.shape }) ?? 0
        return rows > 1 ? "\(nodeCount) nodes on the gathered row alone (1 of \(rows))" : "\(nodeCount) nodes on every row"
    }
}
