/// A tensor dimension as declared by a model: a number or a symbolic name (e.g. "batch").
public enum Dimension: Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)

    public var description: String {
        switch self {
        case .fixed(let n): return String(n)
        case .symbolic(let s): return s.isEmpty ? "?" : s
        }
    }
}

/// A declared graph input or output.
public struct ValueInfo: Sendable, Equatable {
    public var name: String
    public var elementType: ElementType?
    /// nil when the model does not declare a shape.
    public var shape: [Dimension]?

    public init(name: String, elementType: ElementType?, shape: [Dimension]?) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }
}

/// A node as the importer describes it: names, not ids.
public struct NodeSpec: Sendable {
    public var name: String
    public var opType: String
    public var op: any Operator
    /// Input value names; "" marks an omitted optional input.
    public var inputs: [String]
    /// Output value names; "" marks an unused optional output.
    public var outputs: [String]

    public init(name: String, opType: String, op: any Operator, inputs: [String], outputs: [String]) {
        self.name = name
        self.opType = opType
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// One node's wall time in a profiled run.
public struct NodeTiming: Sendable {
    public var name: String
    public var opType: String
    public var seconds: Double
    public var outputShape: [Int]
    /// The algorithm the node chose (operators that choose; see `PlanDescribing`).
    public var plan: String?
}

/// An executable dataflow graph: nodes in topological order over numbered value slots.
public final class Graph: Sendable {
    struct Node: Sendable {
        let name: String
        let opType: String
        let op: any Operator
        let inputs: [Int?]
        let outputs: [Int?]
        /// Value slots whose last reader is this node, freed after it runs.
        let releases: [Int]
        /// The released slots produced by nodes, whose float buffers return to the run's pool.
        let recycles: [Int]
        /// An input (its position and slot) released here and read once by this node, whose buffer
        /// the output may take (`InputOverwriting`) if no other tensor holds it when the node runs.
        let overwritable: (input: Int, slot: Int)?
        /// How the node's outputs can be reused from an earlier run (`ShapeValues`).
        let reuse: ShapeValues.Reuse
    }

    public let inputs: [ValueInfo]
    public let outputs: [ValueInfo]
    public let constants: [String: Tensor]
    public let nodeCount: Int
    /// (name, op type) per node, in execution order.
    public let nodeSummaries: [(name: String, opType: String)]

    let nodes: [Node]
    let slotCount: Int
    /// Value names and their slots, for shape inference and diagnostics.
    let slotNames: [(String, Int)]
    let inputSlots: [Int]
    let outputSlots: [Int]
    let constantSlots: [(Int, Tensor)]
    /// Per slot, whether a run starts with it reused (the constants), when some node's outputs
    /// can be kept between runs (`ShapeValues`); empty when none can, so a run tracks nothing.
    let reusedAtStart: [Bool]
    /// The largest value a run may compute (elements); operators check sizes they derive from data.
    public let maxTensorElements: Int
    /// Activation buffers recycled across nodes and runs (one pool per concurrent run).
    let pools = BufferPools()

    /// Floats the graph keeps between runs for reuse (its arena, sized at load by a dry run).
    public var pooledElements: Int { pools.heldElements }

    /// Buffers the latest finished run had to allocate: outputs (zero when the arena sized at
    /// load or by an earlier run held them) and kernels' scratch.
    public var allocationsLastRun: BufferPool.Allocations { pools.allocationsLastRun }

    /// Orders `nodes` topologically and checks that every value has one producer.
    /// Errors name the node: duplicate producers, dangling inputs, cycles, missing outputs.
    public init(inputs: [ValueInfo], outputs: [ValueInfo], constants: [String: Tensor], nodes specs: [NodeSpec],
                maxTensorElements: Int = ResourceLimits.defaults.maxTensorElements) throws {
        self.maxTensorElements = maxTensorElements
        var slotOf: [String: Int] = [:]
        var slotNames: [String] = []
        func slot(_ name: String) -> Int {
            if let s = slotOf[name] { return s }
            let s = slotNames.count
            slotOf[name] = s
            slotNames.append(name)
            return s
        }
        var available = Set<String>()
        for c in constants.keys { _ = slot(c); available.insert(c) }
        for i in inputs {
            if available.contains(i.name) {
                throw ManakoError(.invalidModel, "graph input '\(i.name)' is declared twice")
            }
            _ = slot(i.name)
            available.insert(i.name)
        }
        let producer = try Graph.singleProducers(of: specs, besides: available)
        // Kahn's algorithm over the producer relation; keeps file order when possible.
        var pending = [Int](repeating: 0, count: specs.count)
        var readers: [[Int]] = Array(repeating: [], count: specs.count)
        for (n, spec) in specs.enumerated() {
            for i in spec.inputs where !i.isEmpty {
                if available.contains(i) { continue }
                guard let p = producer[i] else {
                    throw ManakoError(.invalidModel, "node '\(spec.name)' (\(spec.opType)) reads '\(i)', which no node, input or initializer provides")
                }
                pending[n] += 1
                readers[p].append(n)
            }
        }
        var ready = (0..<specs.count).filter { pending[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        order.reserveCapacity(specs.count)
        while let n = ready.popLast() {
            order.append(n)
            for r in readers[n] {
                pending[r] -= 1
                if pending[r] == 0 { ready.append(r) }
            }
        }
        if order.count != specs.count {
            let stuck = (0..<specs.count).filter { pending[$0] > 0 }.prefix(5).map { "'\(specs[$0].name)'" }
            throw ManakoError(.invalidModel, "the graph has a cycle through node(s) \(stuck.joined(separator: ", "))")
        }
        for o in outputs where !available.contains(o.name) && producer[o.name] == nil {
            throw ManakoError(.invalidModel, "graph output '\(o.name)' is not produced by any node")
        }
        // Slots in execution order, then last readers for early release.
        for n in order { for o in specs[n].outputs where !o.isEmpty { _ = slot(o) } }
        let outputNames = Set(outputs.map(\.name))
        var lastReader: [Int: Int] = [:]
        for (position, n) in order.enumerated() {
            for i in specs[n].inputs where !i.isEmpty { lastReader[slotOf[i]!] = position }
        }
        var releasesAt: [[Int]] = Array(repeating: [], count: order.count)
        for (s, position) in lastReader {
            if !outputNames.contains(slotNames[s]) { releasesAt[position].append(s) }
        }
        // Only node outputs go back to the buffer pool (constants and caller inputs live on).
        let produced = Set(specs.flatMap { $0.outputs.filter { !$0.isEmpty }.map { slotOf[$0]! } })
        let reuse = ShapeValues.reuse(of: order.map { specs[$0] }, constants: Set(constants.keys))
        var built: [Node] = []
        for (position, n) in order.enumerated() {
            let spec = specs[n]
            let inputSlots = spec.inputs.map { $0.isEmpty ? nil : slotOf[$0]! }
            var overwritable: (input: Int, slot: Int)?
            if let index = (spec.op as? any InputOverwriting)?.overwritableInput, index < inputSlots.count, let s = inputSlots[index],
               releasesAt[position].contains(s), inputSlots.filter({ $0 == s }).count == 1 {
                overwritable = (index, s)
            }
            built.append(Node(
                name: spec.name, opType: spec.opType, op: spec.op,
                inputs: inputSlots,
                outputs: spec.outputs.map { $0.isEmpty ? nil : slotOf[$0]! },
                releases: releasesAt[position], recycles: releasesAt[position].filter { produced.contains($0) },
                overwritable: overwritable, reuse: reuse[position]))
        }
        self.inputs = inputs
        self.outputs = outputs
        self.constants = constants
        self.nodes = built
        self.nodeCount = built.count
        self.nodeSummaries = built.map { ($0.name, $0.opType) }
        self.slotCount = slotOf.count
        self.slotNames = slotOf.map { ($0.key, $0.value) }
        self.inputSlots = inputs.map { slotOf[$0.name]! }
        self.outputSlots = outputs.map { slotOf[$0.name]! }
        self.constantSlots = constants.map { (slotOf[$0.key]!, $0.value) }
        var reusedAtStart = [Bool]()
        if built.contains(where: { $0.reuse != .never }) {
            reusedAtStart = Array(repeating: false, count: slotOf.count)
            for (s, _) in constantSlots { reusedAtStart[s] = true }
        }
        self.reusedAtStart = reusedAtStart
    }

    /// The node writing each value, refusing a value written twice or that is also an input or
    /// constant (`besides`). The importer calls it on the file's own graph, before any pass.
    public static func singleProducers(of specs: [NodeSpec], besides available: Set<String>) throws -> [String: Int] {
        var producer: [String: Int] = [:]
        for (n, spec) in specs.enumerated() {
            for o in spec.outputs where !o.isEmpty {
                if available.contains(o) || producer[o] != nil {
                    throw ManakoError(.invalidModel, "node '\(spec.name)' (\(spec.opType)) writes '\(o)', which already has a value")
                }
                producer[o] = n
            }
        }
        return producer
    }

    /// Runs the graph. Every declared input must be fed, with its declared type and
    /// fixed dimensions; the result holds every declared output.
    public func run(_ feeds: [String: Tensor]) throws -> [String: Tensor] {
        try run(feeds, profile: nil)
    }

    /// Runs the graph and records every node's wall time in `profile` (in execution order).
    public func run(_ feeds: [String: Tensor], profile: inout [NodeTiming]) throws -> [String: Tensor] {
        var timings: [NodeTiming] = []
        let result = try withUnsafeMutablePointer(to: &timings) { try run(feeds, profile: $0) }
        profile = timings
        return result
    }

    /// Sizes the arena at load: a dry run on `feeds` walks every node and takes every buffer a
    /// run of these shapes takes, computing nothing into them, so that the first real run
    /// allocates no activation memory. Operators that compute outside their output's fill
    /// (the plain reference kernels) still compute, on whatever the buffers hold.
    public func sizeArena(_ feeds: [String: Tensor]) throws {
        _ = try run(feeds, profile: nil, sizing: true)
    }

    private func run(_ feeds: [String: Tensor], profile: UnsafeMutablePointer<[NodeTiming]>?, sizing: Bool = false) throws -> [String: Tensor] {
        let pool = pools.checkOut()
        pool.sizing = sizing
        defer {
            pool.sizing = false
            pools.checkIn(pool)
        }
        return try ElementLimit.with(maxTensorElements) {
            try BufferPool.with(pool) { try run(feeds, profile: profile, pool: pool) }
        }
    }

    private func run(_ feeds: [String: Tensor], profile: UnsafeMutablePointer<[NodeTiming]>?, pool: BufferPool) throws -> [String: Tensor] {
        for name in feeds.keys where !inputs.contains(where: { $0.name == name }) {
            let known = inputs.map { "'\($0.name)'" }.joined(separator: ", ")
            throw ManakoError(.invalidArgument, "the model has no input named '\(name)' (inputs: \(known))")
        }
        var values = [Tensor?](repeating: nil, count: slotCount)
        for (s, t) in constantSlots { values[s] = t }
        for (info, s) in zip(inputs, inputSlots) {
            guard let t = feeds[info.name] else {
                throw ManakoError(.invalidArgument, "input '\(info.name)' was not given")
            }
            try Graph.check(t, against: info)
            try ElementLimit.check(t.shape, "input '\(info.name)'")
            values[s] = t
        }
        // Shape-derived values kept from the last run (not in a sizing run, which computes
        // floats into nothing), and which slots hold them in this run: those stay out of the pool.
        let shapeValues = pool.sizing ? nil : pool.shapeValues ?? {
            pool.shapeValues = ShapeValues(nodeCount: nodes.count)
            return pool.shapeValues!
        }()
        var reused = reusedAtStart
        // Whether slot s holds a value kept from the last run (never, in a graph that keeps none).
        func isReused(_ s: Int) -> Bool { !reused.isEmpty && reused[s] }
        for (position, node) in nodes.enumerated() {
            if node.reuse != .never, let shapeValues,
               let kept = shapeValues.outputs(of: position, node.reuse,
                                             inputShape: { node.inputs.first.flatMap { $0.flatMap { values[$0]?.shape } } },
                                             inputsReused: { node.inputs.allSatisfy { $0.map { reused[$0] } ?? true } }) {
                for (slot, value) in zip(node.outputs, kept) {
                    guard let slot else { continue }
                    values[slot] = value
                    reused[slot] = true
                }
                for s in node.recycles where !isReused(s) { values[s]?.recycle(into: pool) }
                for s in node.releases { values[s] = nil }
                profile?.pointee.append(NodeTiming(name: node.name, opType: node.opType, seconds: 0, outputShape: kept.first?.shape ?? [],
                                                   plan: "kept from the last run"))
                continue
            }
            // The input the output may overwrite, if its buffer is this tensor's alone (no view,
            // feed or caller's copy shares it): checked with the graph's own reference set aside.
            var overwrites = false
            if let s = node.overwritable?.slot, var candidate = values[s] {
                values[s] = nil
                overwrites = candidate.ownsBufferAlone()
                values[s] = candidate
            }
            let args = node.inputs.map { $0.flatMap { values[$0] } }
            let results: [Tensor]
            let started = profile == nil ? nil : ContinuousClock.now
            do {
                if overwrites, let op = node.op as? any InputOverwriting {
                    results = try op.runOverwriting(args)
                } else {
                    results = try node.op.run(args)
                }
            } catch let e as ManakoError {
                throw e.inContext("node '\(node.name)' (\(node.opType))")
            }
            for (k, slot) in node.outputs.enumerated() {
                guard let slot else { continue }
                guard k < results.count else {
                    throw ManakoError(.internal, "node '\(node.name)' (\(node.opType)) produced \(results.count) outputs, \(node.outputs.count) expected")
                }
                values[slot] = results[k]
            }
            // An overwritten input's buffer is now the output's, not the pool's; an operator that
            // was offered it but wrote elsewhere leaves it to the pool like any other.
            let tookInput = overwrites && node.overwritable.map { o in
                results.contains { output in values[o.slot].map { output.sharesAlignedBuffer(with: $0) } ?? false }
            } ?? false
            if node.reuse != .never, let shapeValues {
                shapeValues.keep(results, of: position, inputShape: node.reuse == .whileShapeIs ? args.first??.shape : nil)
            }
            for s in node.recycles where !(tookInput && s == node.overwritable?.slot) && !isReused(s) { values[s]?.recycle(into: pool) }
            for s in node.releases { values[s] = nil }
            if let started, let profile {
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                profile.pointee.append(NodeTiming(name: node.name, opType: node.opType, seconds: seconds,
                                                  outputShape: results.first?.shape ?? [],
                                                  plan: ((node.op as? any PlanDescribing)?.plan(args)).map {
                                                      overwrites ? $0 + ", written over its input \(node.overwritable!.input)" : $0
                                                  }))
            }
        }
        var result: [String: Tensor] = [:]
        for (info, s) in zip(outputs, outputSlots) { result[info.name] = values[s] }
        return result
    }

    /// Checks a fed tensor against a declared input: element type, rank, fixed dimensions.
    public static func check(_ t: Tensor, against info: ValueInfo) throws {
        if let type = info.elementType, type != t.elementType {
            let widenable = type == .int64 && t.elementType == .int32
            if !widenable {
                throw ManakoError(.shapeMismatch, "input '\(info.name)' must be \(type), got \(t.elementType)")
            }
        }
        guard let shape = info.shape else { return }
        guard shape.count == t.rank else {
            throw ManakoError(.shapeMismatch, "input '\(info.name)' must have shape \(shape) (rank \(shape.count)), got \(t.shape)")
        }
        for (d, dim) in shape.enumerated() {
            if case .fixed(let n) = dim, n != t.shape[d] {
                throw ManakoError(.shapeMismatch, "input '\(info.name)' must have shape \(shape), got \(t.shape)")
            }
        }
    }
}
