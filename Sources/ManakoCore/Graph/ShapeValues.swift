/// Values a graph computes from shapes alone, kept from one run to the next. A Shape node's
/// output depends only on the shape it reads, and a node fed only by such values and constants
/// (the Gather, Unsqueeze, Concat, Cast and Sqrt chains an exporter writes for
/// `x.reshape(B, N, heads, -1)` or `1 / sqrt(head_dim)`) only on them; every operator is a pure
/// function of its inputs. So while each Shape node reads the shape it read last time, those
/// values are what they were, and their nodes need not run: DeiT-Tiny has 230 of them among
/// 340 nodes, each a microsecond or two of dispatch and small allocations per run.
/// One per buffer pool (one per concurrent run), so it needs no lock.
final class ShapeValues {
    /// Whether a node's outputs can be kept, and what decides that they are still valid.
    enum Reuse: Sendable, Equatable {
        /// Reads activations: runs every time.
        case never
        /// A Shape node: valid while its input has the shape it had when they were kept.
        case whileShapeIs
        /// Fed only by kept values and constants: valid while all of those were reused.
        case whileInputsAre
    }

    /// What `reuse` gives the nodes `specs` (in execution order), given the graph's constants.
    static func reuse(of specs: [NodeSpec], constants: Set<String>) -> [Reuse] {
        var derived = constants
        return specs.map { spec in
            let reuse: Reuse = spec.op is ShapeOf ? .whileShapeIs
                : spec.inputs.allSatisfy({ $0.isEmpty || derived.contains($0) }) ? .whileInputsAre : .never
            if reuse != .never { derived.formUnion(spec.outputs.filter { !$0.isEmpty }) }
            return reuse
        }
    }

    /// A node's kept outputs, and for a Shape node the shape they came from.
    private struct Kept {
        var inputShape: [Int]?
        var outputs: [Tensor]
    }

    /// Largest node output kept (elements, all outputs together) and most kept in all: shape
    /// values are a few integers; a large tensor built from a shape (a ConstantOfShape mask) is
    /// computed each run rather than held.
    static let maxNodeElements = 1 << 16, maxElements = 1 << 20

    private var kept: [Kept?]
    private var keptElements = 0

    init(nodeCount: Int) {
        kept = Array(repeating: nil, count: nodeCount)
    }

    /// The outputs node `position` left last time, if still valid: for a Shape node, when
    /// `inputShape()` is the shape it read then; for the others, when `inputsReused()` (every
    /// input a constant, absent or itself reused in this run).
    func outputs(of position: Int, _ reuse: Reuse, inputShape: () -> [Int]?, inputsReused: () -> Bool) -> [Tensor]? {
        guard let entry = kept[position] else { return nil }
        switch reuse {
        case .never: return nil
        case .whileShapeIs:
            guard let shape = inputShape(), shape == entry.inputShape else { return nil }
            return entry.outputs
        case .whileInputsAre: return inputsReused() ? entry.outputs : nil
        }
    }

    /// Keeps copies of `outputs` (fresh memory: the originals may return to the buffer pool and be
    /// written over), unless they are larger than a shape value should be.
    func keep(_ outputs: [Tensor], of position: Int, inputShape: [Int]?) {
        let previous = kept[position].map { $0.outputs.reduce(0) { $0 + $1.count } } ?? 0
        let elements = outputs.reduce(0) { $0 + $1.count }
        keptElements -= previous
        kept[position] = nil
        guard elements <= ShapeValues.maxNodeElements, keptElements + elements <= ShapeValues.maxElements else { return }
        kept[position] = Kept(inputShape: inputShape, outputs: outputs.map(\.detachedCopy))
        keptElements += elements
    }
}

extension Tensor {
    /// The same tensor in memory of its own: float elements copied (an aligned or pooled buffer
    /// may be written over once its tensor dies), other types shared copy-on-write.
    var detachedCopy: Tensor {
        guard case .float32(let floats) = storage else { return self }
        return Tensor(shape: shape, floats: floats.withUnsafeBufferPointer { Array($0) })
    }
}
