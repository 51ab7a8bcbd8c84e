/// GlobalAveragePool over a channel-blocked input (`ChannelBlocks`) [N, C, H, W]: the output
/// [N, C, 1, 1] is the same in both layouts, so a blocked chain ends here without a reorder.
/// Not an ONNX operator: only `GraphOptimizer.blockChannels` creates it.
public struct BlockedGlobalAveragePool: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank == 4, x.shape[1] % ChannelBlocks.width == 0 else {
            throw ManakoError(.shapeMismatch, "a blocked average pool needs [N, C, H, W] with C a multiple of \(ChannelBlocks.width), got \(x.shape)")
        }
        let values = try x.floatValues()
        let y = BufferPool.floats(x.shape[0] * x.shape[1]) { out in
            values.withUnsafeBufferPointer {
                ChannelBlocks.averagePool($0.baseAddress!, batch: x.shape[0], channels: x.shape[1], spatial: x.shape[2] * x.shape[3],
                                          into: out.baseAddress!)
            }
        }
        return [Tensor(shape: [x.shape[0], x.shape[1], 1, 1], floats: y)]
    }

    public func inferShapes(_ inputs: [ShapeFact?]) throws -> [[Int?]?]? { try GlobalAveragePool().inferShapes(inputs) }
}
