import CManakoSIMD

/// The channel-blocked layout ("NCHW8c") the mobile networks' convolution chains run in:
/// [N, C/8, H, W, 8], so channel c of pixel p of image n is at ((n * C/8 + c / 8) * H * W + p) * 8 + c % 8.
/// A pixel's eight channels are one vector: a depthwise window needs no shuffles at any stride,
/// and a 1x1 convolution's 6x16 register tile is six pixels by two blocks of output channels.
/// A blocked tensor keeps its logical shape [N, C, H, W] (C % 8 == 0); only the operators the
/// optimizer put in a blocked chain read it (`GraphOptimizer.blockChannels`).
public enum ChannelBlocks {
    /// Channels per block (one 8-lane vector).
    public static let width = 8

    /// NCHW [N, C, spatial] into the blocked layout. Eight channels by eight pixels at a time
    /// (one in-register transpose); blocks split across threads.
    public static func block(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, into y: UnsafeMutablePointer<Float>) {
        reorder(batch: batch, channels: channels, spatial: spatial) { blockBase, pixel, count in
            let source = x + blockBase + pixel, target = y + blockBase + pixel * width
            if count == width {
                mk_transpose8x8(source, spatial, target, width)
            } else {
                for p in 0..<count { for k in 0..<width { target[p * width + k] = source[k * spatial + p] } }
            }
        }
    }

    /// The blocked layout back into NCHW [N, C, spatial].
    public static func unblock(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, into y: UnsafeMutablePointer<Float>) {
        reorder(batch: batch, channels: channels, spatial: spatial) { blockBase, pixel, count in
            let source = x + blockBase + pixel * width, target = y + blockBase + pixel
            if count == width {
                mk_transpose8x8(source, width, target, spatial)
            } else {
                for p in 0..<count { for k in 0..<width { target[k * spatial + p] = source[p * width + k] } }
            }
        }
    }

    /// Calls `body(blockBase, firstPixel, count)` for every run of up to eight pixels of every
    /// block; a block's 8 * spatial floats start at `blockBase` in both layouts.
    @inline(__always)
    static func reorder(batch: Int, channels: Int, spatial: Int, _ body: (Int, Int, Int) -> Void) {
        let blocks = batch * channels / width
        Parallel.forEachPart(of: blocks, split: blocks * spatial >= 1 << 14) { range in
            for b in range {
                var pixel = 0
                while pixel < spatial {
                    body(b * width * spatial, pixel, min(width, spatial - pixel))
                    pixel += width
                }
            }
        }
    }
}

extension ChannelBlocks {
    /// The mean of each channel over `spatial` pixels, from the blocked layout into [N, C] (which
    /// is also the blocked layout of [N, C, 1, 1]). Eight channels per vector sum.
    public static func averagePool(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, into y: UnsafeMutablePointer<Float>) {
        let blocks = batch * channels / width
        // On several threads, one even part of the blocks each: the channels the layer before
        // (a 1x1 layer on a small plane, split by filters) wrote on that core.
        Parallel.forEachEvenPart(of: blocks, split: Parallel.threads > 1 && blocks * spatial >= 1 << 12) { part in
            for b in part {
                var block = UnsafeRawPointer(x + b * spatial * width)
                var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
                var p = 0
                while p + 1 < spatial {
                    s0 += block.loadUnaligned(as: SIMD8<Float>.self)
                    s1 += block.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    block += 64
                    p += 2
                }
                if p < spatial { s0 += block.loadUnaligned(as: SIMD8<Float>.self) }
                let mean = spatial > 0 ? (s0 + s1) / Float(spatial) : SIMD8()
                UnsafeMutableRawPointer(y + b * width).storeBytes(of: mean, as: SIMD8<Float>.self)
            }
        }
    }

    /// Each block's [H, W, 8] plane into a zero-bordered [planeHeight, planeWidth, 8] one, the
    /// input's first pixel at (top, left): the plane a padded blocked convolution reads.
    public static func pad(_ x: UnsafePointer<Float>, blocks: Int, height: Int, width: Int, top: Int, left: Int,
                           planeHeight: Int, planeWidth: Int, into y: UnsafeMutablePointer<Float>) {
        let w = ChannelBlocks.width, rowFloats = planeWidth * w, planeFloats = planeHeight * rowFloats
        let right = planeWidth - left - width
        Parallel.forEachPart(of: blocks, split: blocks * planeFloats >= 1 << 15) { range in
            for b in range {
                let source = x + b * height * width * w, target = y + b * planeFloats
                target.initialize(repeating: 0, count: top * rowFloats)
                for row in 0..<height {
                    let out = target + (top + row) * rowFloats
                    out.initialize(repeating: 0, count: left * w)
                    (out + left * w).initialize(from: source + row * width * w, count: width * w)
                    (out + (left + width) * w).initialize(repeating: 0, count: right * w)
                }
                (target + (top + height) * rowFloats).initialize(repeating: 0, count: (planeHeight - top - height) * rowFloats)
            }
        }
    }

    /// y = x times one factor per channel (squeeze-and-excitation): x blocked [N, C, spatial],
    /// `scale` [N or 1, C] (`scaleBatch` its first dimension), y blocked.
    public static func scaleChannels(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                                     scale: UnsafePointer<Float>, scaleBatch: Int, into y: UnsafeMutablePointer<Float>) {
        let blocks = batch * channels / width, perImage = channels / width
        Parallel.forEachPart(of: blocks, split: blocks * spatial >= 1 << 15) { range in
            for b in range {
                let image = b / perImage, block = b % perImage
                let factor = UnsafeRawPointer(scale + ((scaleBatch == 1 ? 0 : image) * perImage + block) * width)
                    .loadUnaligned(as: SIMD8<Float>.self)
                let source = UnsafeRawPointer(x + b * spatial * width), target = UnsafeMutableRawPointer(y + b * spatial * width)
                for p in 0..<spatial {
                    target.storeBytes(of: source.loadUnaligned(fromByteOffset: p * 32, as: SIMD8<Float>.self) * factor,
                                      toByteOffset: p * 32, as: SIMD8<Float>.self)
                }
            }
        }
    }
}
