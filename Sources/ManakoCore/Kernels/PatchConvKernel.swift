/// Convolution whose windows tile the input with no overlap, gap or padding (kernel = stride: the
/// patch embeddings of ViT, DeiT and Swin) as the transformers' GEMM: each output pixel's patch,
/// KW floats at a time, becomes one row of A (a permutation of X, no copy twice), and A times the
/// filters packed as B (`PackedBGemm`, in the MatMuls' slices of K) gives [pixels, M], transposed into
/// the output. The indirect kernel ran these at 0.6 of the GEMM's rate: its sixteen-column tiles
/// straddle the short output rows and each step of K reads another row of another plane.
/// Layout: input [N, C, H, W], weights [M, C, KH, KW] packed as B [C*KH*KW, M], output [N, M, OH, OW].
/// Twin: `ConvKernels.reference`.
public enum PatchConvKernel {
    /// Whether windows of `kernel` at these strides, dilations and pads tile the input.
    public static func fits(kernel: [Int], strides: [Int], dilations: [Int], pads: [Int], groups: Int) -> Bool {
        kernel.count == 2 && strides == kernel && dilations.allSatisfy { $0 == 1 } && pads.allSatisfy { $0 == 0 } && groups == 1
            && kernel[0] * kernel[1] >= 4
    }

    /// W [M, C, KH, KW] as B [C*KH*KW, M], packed once at load.
    public static func packWeights(_ weights: [Float], outChannels m: Int, patch k: Int) -> PackedBGemm.PackedB {
        weights.withUnsafeBufferPointer {
            PackedBGemm.PackedB(columnsOf: $0.baseAddress!, columnStride: k, rowOffsets: nil, depth: k, columns: m, maxSliceDepth: 768)
        }
    }

    /// The pool buffer `run` takes (the [pixels, M] products; a load's sizing run reserves it).
    public static func poolScratch(geometry g: WindowGeometry, weights: PackedBGemm.PackedB) -> [Int] {
        [productFloats(g, weights)]
    }

    static func productFloats(_ g: WindowGeometry, _ weights: PackedBGemm.PackedB) -> Int {
        g.outHeight * g.outWidth * weights.columns
    }

    /// y = activation(conv(x, W) + bias) for every image of `g` (whose windows must tile X:
    /// `fits`, any input size; rows and columns past the last whole window are not read).
    public static func run(_ x: UnsafePointer<Float>, geometry g: WindowGeometry, weights: PackedBGemm.PackedB,
                           bias: UnsafePointer<Float>?, activation: FusedActivation, into y: UnsafeMutablePointer<Float>) {
        let (kh, kw) = (g.kernelHeight, g.kernelWidth), c = g.inChannels, k = c * kh * kw, m = weights.columns
        let pixels = g.outHeight * g.outWidth, planeIn = g.inHeight * g.inWidth
        precondition(weights.depth == k, "patch weights for another kernel")
        let products = BufferPool.floats(productFloats(g, weights)) { _ in }
        products.withUnsafeBufferPointer { productsBuffer in
            let rowsOut = UnsafeMutablePointer(mutating: productsBuffer.baseAddress!)
            for image in 0..<g.batch {
                let xImage = x + image * c * planeIn
                // Rows first ..< first + count of A: pixel p's patch in W's order (channel, row, column).
                PackedBGemm.multiply(xImage, rows: pixels, weights, columnBias: bias, activation: activation, into: rowsOut) { first, count, target in
                    for p in first..<(first + count) {
                        let origin = xImage + (p / g.outWidth) * kh * g.inWidth + (p % g.outWidth) * kw
                        var row = target + (p - first) * k
                        for channel in 0..<c {
                            for r in 0..<kh {
                                row.update(from: origin + channel * planeIn + r * g.inWidth, count: kw)
                                row += kw
                            }
                        }
                    }
                }
                // [pixels, M] read as its transposed view: StridedCopy's 8x8 register transposes.
                StridedCopy.transposeTiles(rowsOut, shape: [m, pixels], strides: [1, m], contiguousAxis: 0, into: y + image * m * pixels,
                                           parallel: pixels * m >= Parallel.elementwiseThreshold)
            }
        }
        BufferPool.recycle(products)
    }
}
