/// What shape inference knows of a value: its shape, with nil for a dimension only known at
/// run time (a symbolic batch), and its contents when it is a constant.
public struct ShapeFact: Sendable {
    public var shape: [Int?]?
    public var constant: Tensor?

    public init(shape: [Int?]?, constant: Tensor? = nil) {
        self.shape = shape
        self.constant = constant
    }

    /// The shape when every dimension is known.
    public var concreteShape: [Int]? {
        guard let shape, shape.allSatisfy({ $0 != nil }) else { return nil }
        return shape.map { $0! }
    }
}

extension Operator {
    /// Default: this operator's output shapes are not inferred statically.
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? { nil }
}

/// Shape rules shared by several operators.
public enum ShapeRules {
    /// Numpy broadcasting with unknown dimensions: a known size other than 1 wins.
    public static func broadcast(_ a: [Int?], _ b: [Int?]) throws -> [Int?] {
        let rank = max(a.count, b.count)
        return try (0..<rank).map { i in
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            switch (x, y) {
            case let (x?, y?):
                guard x == y || x == 1 || y == 1 else {
                    throw ManakoError(.shapeMismatch, "shapes \(describe(a)) and \(describe(b)) cannot be broadcast")
                }
                return x == 1 ? y : x
            case let (x?, nil): return x == 1 ? nil : x
            case let (nil, y?): return y == 1 ? nil : y
            default: return nil
            }
        }
    }

    public static func describe(_ shape: [Int?]) -> String {
        "[" + shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
    }

    /// Elementwise operators: the broadcast of every present input.
    public static func elementwise(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        var result: [Int?]? = nil
        for input in inputs.compactMap({ $0 }) {
            guard let shape = input.shape else { return nil }
            result = try result.map { try broadcast($0, shape) } ?? shape
        }
        return [result]
    }

    /// Operators whose output has their first input's shape.
    public static func sameAsFirst(_ inputs: [ShapeFact?]) -> [[Int?]?]? {
        [inputs.first??.shape]
    }
}

extension Graph {
    /// Propagates shapes from the declared inputs through every node, in execution order.
    /// Returns what is known per value name; a contradiction is an error naming the node.
    public func inferShapes() throws -> [String: [Int?]] {
        var facts: [Int: ShapeFact] = [:]
        for (slot, tensor) in constantSlots { facts[slot] = ShapeFact(shape: tensor.shape.map { $0 }, constant: tensor) }
        for (info, slot) in zip(inputs, inputSlots) {
            facts[slot] = ShapeFact(shape: info.shape?.map { if case .fixed(let n) = $0 { return n } else { return nil } })
        }
        for node in nodes {
            let arguments = node.inputs.map { $0.flatMap { facts[$0] } }
            let shapes: [[Int?]?]?
            do {
                shapes = try node.op.inferShapes(arguments)
            } catch let e as ManakoError {
                throw e.inContext("node '\(node.name)' (\(node.opType))")
            }
            for (k, slot) in node.outputs.enumerated() {
                guard let slot else { continue }
                facts[slot] = ShapeFact(shape: shapes.flatMap { k < $0.count ? $0[k] : nil })
            }
        }
        var result: [String: [Int?]] = [:]
        for (name, slot) in slotNames where facts[slot]?.shape != nil { result[name] = facts[slot]!.shape! }
        return result
    }
}
