/// Picks x where the condition holds and y elsewhere, all three broadcast (ONNX Where).
public struct Where: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let condition = try inputs.required(0, "condition"), x = try inputs.required(1, "X"), y = try inputs.required(2, "Y")
        guard case .bool(let mask) = condition.storage else { throw ManakoError(.shapeMismatch, "condition must be bool, got \(condition.elementType)") }
        guard x.elementType == y.elementType || (x.elementType != .float32 && y.elementType != .float32) else {
            throw ManakoError(.shapeMismatch, "X (\(x.elementType)) and Y (\(y.elementType)) differ in type")
        }
        let shape = try Broadcast.shape(try Broadcast.shape(condition.shape, x.shape), y.shape)
        let mc = Broadcast.indexMap(from: condition.shape, to: shape)
        let mx = Broadcast.indexMap(from: x.shape, to: shape)
        let my = Broadcast.indexMap(from: y.shape, to: shape)
        // Flat indices into the concatenation [x, y], then one typed pick.
        let joined = try Concat(axis: 0).run([x.reshaped([x.count]), y.reshaped([y.count])])[0]
        return [joined.picking((0..<mc.count).map { mask[mc[$0]] ? mx[$0] : x.count + my[$0] }, shape: shape)]
    }
}

extension Where: ElementwiseBroadcasting {}
