/// The input's shape as int64 (ONNX Shape), optionally the dimensions [start, end) (opset 15).
public struct ShapeOf: Operator {
    public var start: Int
    public var end: Int?

    public init(start: Int = 0, end: Int? = nil) {
        self.start = start
        self.end = end
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        func clamp(_ i: Int) -> Int { min(max(i < 0 ? i + x.rank : i, 0), x.rank) }
        let lo = clamp(start), hi = clamp(end ?? x.rank)
        let dims = lo < hi ? x.shape[lo..<hi].map(Int64.init) : []
        return [Tensor(shape: [dims.count], int64s: dims)]
    }
}
