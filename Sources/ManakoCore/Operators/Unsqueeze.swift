/// Inserts size-1 axes at the given positions of the output (ONNX Unsqueeze): input 1 from
/// opset 13, else `staticAxes`.
public struct Unsqueeze: Operator {
    public var staticAxes: [Int]?

    public init(axes: [Int]? = nil) { staticAxes = axes }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        guard let requested = try inputs.optional(1).map({ try $0.int64s().map { Int($0) } }) ?? staticAxes else {
            throw ManakoError(.invalidModel, "Unsqueeze needs axes")
        }
        let rank = x.rank + requested.count
        let axes = try Set(requested.map { try normalizedAxis($0, rank: rank) })
        guard axes.count == requested.count else { throw ManakoError(.invalidModel, "axes \(requested) repeat an axis") }
        var shape: [Int] = []
        var source = x.shape.makeIterator()
        for d in 0..<rank { shape.append(axes.contains(d) ? 1 : source.next()!) }
        return [try x.reshaped(shape)]
    }
}
