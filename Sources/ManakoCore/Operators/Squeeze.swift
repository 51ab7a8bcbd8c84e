/// Removes size-1 axes (ONNX Squeeze): the listed ones (input 1 from opset 13, else
/// `staticAxes`), or all of them.
public struct Squeeze: Operator {
    public var staticAxes: [Int]?

    public init(axes: [Int]? = nil) { staticAxes = axes }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let requested = try inputs.optional(1).map { try $0.int64s().map { Int($0) } } ?? staticAxes
        let axes = try requested.map { try Set($0.map { try normalizedAxis($0, rank: x.rank) }) } ?? Set(x.shape.indices.filter { x.shape[$0] == 1 })
        for a in axes where x.shape[a] != 1 {
            throw ManakoError(.shapeMismatch, "cannot squeeze axis \(a) of size \(x.shape[a])")
        }
        return [try x.reshaped(x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] })]
    }
}
