/// Moves a float tensor [N, C, H, W] (C a multiple of 8) into the channel-blocked layout
/// (`ChannelBlocks`) or back; the logical shape stays. Not an ONNX operator: only
/// `GraphOptimizer.blockChannels` inserts it, at the edges of a blocked chain.
public struct ChannelReorder: Operator, ShapePreserving, PlanDescribing {
    /// true: NCHW to blocked; false: blocked to NCHW.
    public let toBlocked: Bool

    public init(toBlocked: Bool) { self.toBlocked = toBlocked }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank == 4, x.shape[1] % ChannelBlocks.width == 0 else {
            throw ManakoError(.shapeMismatch, "a channel reorder needs [N, C, H, W] with C a multiple of \(ChannelBlocks.width), got \(x.shape)")
        }
        let values = try x.floatValues()
        let (batch, channels, spatial) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        // The blocked form goes on 64-byte lines, for the blocked kernels' vector accesses.
        if toBlocked {
            let y = BufferPool.alignedFloats(values.count) { out in
                values.withUnsafeBufferPointer {
                    ChannelBlocks.block($0.baseAddress!, batch: batch, channels: channels, spatial: spatial, into: out.baseAddress!)
                }
            }
            return [Tensor(shape: x.shape, aligned: y)]
        }
        let y = BufferPool.floats(values.count) { out in
            values.withUnsafeBufferPointer {
                ChannelBlocks.unblock($0.baseAddress!, batch: batch, channels: channels, spatial: spatial, into: out.baseAddress!)
            }
        }
        return [Tensor(shape: x.shape, floats: y)]
    }

    public func plan(_ inputs: [Tensor?]) -> String { toBlocked ? "NCHW to NCHW8c" : "NCHW8c to NCHW" }
}
