/// Converts elements to another type (ONNX Cast). Float to integer truncates toward zero;
/// anything non-zero becomes true.
public struct Cast: Operator {
    public var target: ElementType

    public init(to target: ElementType) { self.target = target }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let asDoubles: [Double]
        switch x.storage {
        case .float32(let a): asDoubles = a.map(Double.init)
        case .int64(let a): asDoubles = a.map(Double.init)
        case .int32(let a): asDoubles = a.map(Double.init)
        case .bool(let a): asDoubles = a.map { $0 ? 1 : 0 }
        }
        let storage: Tensor.Storage
        switch target {
        case .float32:
            if case .int64(let a) = x.storage { storage = .float32(a.map { Float($0) }) } else { storage = .float32(asDoubles.map { Float($0) }) }
        case .int64:
            if case .int64 = x.storage { return [x] }
            storage = .int64(asDoubles.map { $0.isFinite ? Int64(clamping: Int64(exactly: $0.rounded(.towardZero)) ?? ($0 < 0 ? Int64.min : Int64.max)) : 0 })
        case .int32:
            storage = .int32(asDoubles.map { $0.isFinite ? Int32(clamping: Int64(exactly: $0.rounded(.towardZero)) ?? ($0 < 0 ? Int64.min : Int64.max)) : 0 })
        case .bool: storage = .bool(asDoubles.map { $0 != 0 })
        }
        return [try Tensor(shape: x.shape, storage: storage)]
    }
}

extension Cast: ShapePreserving {}
