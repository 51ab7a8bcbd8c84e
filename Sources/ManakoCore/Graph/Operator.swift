/// A computation node's behaviour. Operators are immutable after construction
/// (attributes are resolved by the importer), so one graph can run on many
/// threads at once.
public protocol Operator: Sendable {
    /// Runs the operator. `inputs[i]` is nil when an optional input is omitted.
    /// Returns one tensor per declared output (extra outputs may be dropped by the graph).
    func run(_ inputs: [Tensor?]) throws -> [Tensor]

    /// Output shapes from what is known of the inputs (nil: not inferred). Used at load, so a
    /// shape contradiction is reported before anything runs. Defaults to nil.
    func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]?
}

/// Operators that can write their output into one input's buffer (a residual read once per
/// element, just before that element of the output is written), so the output's cache lines
/// are not first read from memory only to be overwritten. The graph offers it only where that
/// input dies at the node and no other tensor shares its buffer.
public protocol InputOverwriting: Operator {
    /// The input whose buffer the output may take, if this instance can.
    var overwritableInput: Int? { get }
    /// `run`, with the output written over `inputs[overwritableInput]`'s buffer.
    func runOverwriting(_ inputs: [Tensor?]) throws -> [Tensor]
}

/// Operators that choose among algorithms by the shapes they meet describe their choice, for
/// `manako info --plan` and profiles. The choice depends only on shapes and load-time
/// preparation, so it is the same on every run.
public protocol PlanDescribing: Operator {
    func plan(_ inputs: [Tensor?]) -> String
}

/// Operators whose outputs have their first input's shape.
public protocol ShapePreserving: Operator {}

extension ShapePreserving {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        [inputs.first??.shape]
    }
}

/// Operators whose output is the numpy broadcast of their inputs.
public protocol ElementwiseBroadcasting: Operator {}

extension ElementwiseBroadcasting {
    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? {
        try ShapeRules.elementwise(inputs)
    }
}

extension Array where Element == Tensor? {
    /// The input at `index`, or an error naming it when absent.
    public func required(_ index: Int, _ what: String) throws -> Tensor {
        guard index < count, let t = self[index] else {
            throw ManakoError(.invalidModel, "missing required input \(index) (\(what))")
        }
        return t
    }

    /// The input at `index` when present.
    public func optional(_ index: Int) -> Tensor? {
        index < count ? self[index] : nil
    }
}
