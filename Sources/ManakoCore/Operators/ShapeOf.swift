/// The input's shape as int64 (ONNX Shape), optionally the dimensions [start, end) (opset 15).
/// With a `view`, the shape of that view of the input (a Shape of a Transpose, say, set at
/// load so the Transpose need not run only for its shape).
public struct ShapeOf: Operator {
    public var start: Int
    public var end: Int?
    public var view: ViewChain?

    public init(start: Int = 0, end: Int? = nil) {
        self.start = start
        self.end = end
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let shape = try view?.resolve(x.shape).lengths ?? x.shape
        func clamp(_ i: Int) -> Int { min(max(i < 0 ? i + shape.count : i, 0), shape.count) }
        let lo = clamp(start), hi = clamp(end ?? shape.count)
        let dims = lo < hi ? shape[lo..<hi].map(Int64.init) : []
        return [Tensor(shape: [dims.count], int64s: dims)]
    }
}
