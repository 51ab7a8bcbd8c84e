/// Mul of a channel-blocked X [N, C, H, W] (`ChannelBlocks`) by S [N or 1, C, 1, 1], one factor
/// per channel (squeeze-and-excitation's rescaling); the output is blocked. Inputs: X, S.
/// Not an ONNX operator: only `GraphOptimizer.blockChannels` creates it from a Mul.
public struct BlockedChannelScale: Operator, ShapePreserving {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), s = try inputs.required(1, "S")
        guard x.rank == 4, x.shape[1] % ChannelBlocks.width == 0, s.rank == 4, s.shape[1] == x.shape[1],
              s.shape[0] == 1 || s.shape[0] == x.shape[0], s.shape[2] == 1, s.shape[3] == 1 else {
            throw ManakoError(.shapeMismatch, "a blocked channel scale needs X [N, C, H, W] (C a multiple of \(ChannelBlocks.width)) and S [N or 1, C, 1, 1], got \(x.shape) and \(s.shape)")
        }
        let values = try x.floatValues(), factors = try s.floats()
        let y = BufferPool.alignedFloats(values.count) { out in
            values.withUnsafeBufferPointer { xb in
                factors.withUnsafeBufferPointer { sb in
                    ChannelBlocks.scaleChannels(xb.baseAddress!, batch: x.shape[0], channels: x.shape[1], spatial: x.shape[2] * x.shape[3],
                                                scale: sb.baseAddress!, scaleBatch: s.shape[0], into: out.baseAddress!)
                }
            }
        }
        return [Tensor(shape: x.shape, aligned: y)]
    }
}
