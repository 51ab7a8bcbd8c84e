/// Convolution with few input channels (the RGB stems of every CNN) as a GEMM whose B is never
/// built: each input channel is loaded once into a padded, phase-split `PhasePlane`, where for any
/// tap, stride and dilation sixteen consecutive outputs of a row read sixteen consecutive floats;
/// a table of per-k byte offsets (k = channel, tap) replaces im2col's copy and GEMM's packing.
/// The 6x16 tiles are PanelGemm's, with A its packed weights; rows split across threads.
/// Layout: input [N, C, H, W], weights packed [M/6][C*KH*KW][6], output [N, M, OH, OW].
/// Twin: `ConvKernels.reference`.
public enum IndirectConvKernel {
    /// Up to this many input channels the planes of one image stay small (three 224x224 planes
    /// are 0.6 MB) and im2col's copy would cost more than the products.
    static let maxChannels = 4

    static func fits(_ g: WindowGeometry, groups: Int) -> Bool {
        groups == 1 && g.inChannels <= maxChannels && g.kernelHeight * g.kernelWidth > 1
    }

    static func run(input: UnsafePointer<Float>, packed: PanelGemm.PackedA, bias: UnsafePointer<Float>?,
                    residual: UnsafePointer<Float>?, geometry g: WindowGeometry, activation: FusedActivation,
                    into y: UnsafeMutablePointer<Float>) {
        let channels = g.inChannels, taps = g.kernelHeight * g.kernelWidth
        let m = packed.rows, spatialIn = g.inHeight * g.inWidth, spatialOut = g.outHeight * g.outWidth
        let planes = (0..<channels).map { _ in PhasePlane(g, fill: 0) }
        defer { for plane in planes { plane.deallocate() } }
        // Byte offsets from channel 0's window origin to every (channel, tap) row of B.
        let rowOffsets = (0..<(channels * taps)).map { k in
            (planes[k / taps].scratch - planes[0].scratch + planes[0].tapOffsets[k % taps]) * MemoryLayout<Float>.stride
        }
        let panels = (m + PanelGemm.rowsPerPanel - 1) / PanelGemm.rowsPerPanel
        let columnTiles = (g.outWidth + PanelGemm.columnsPerTile - 1) / PanelGemm.columnsPerTile
        PanelGemm.withPanels(packed) { a in
            rowOffsets.withUnsafeBufferPointer { offsets in
                for image in 0..<g.batch {
                    let x = input + image * channels * spatialIn
                    for c in 0..<channels { planes[c].load(x + c * spatialIn) }
                    let imageOut = y + image * m * spatialOut
                    let imageResidual = residual.map { $0 + image * m * spatialOut }
                    let parts = Parallel.ranges(g.outHeight)
                    Parallel.forEach(parts.count) { part in
                        for oh in parts[part] {
                            // Panel by panel along the row: six output planes are written at a time.
                            for panel in 0..<panels {
                                let firstRow = panel * PanelGemm.rowsPerPanel
                                for t in 0..<columnTiles {
                                    let ow = t * PanelGemm.columnsPerTile
                                    let origin = UnsafeRawPointer(planes[0].window(oh, ow))
                                    PanelGemm.indirectTile(a + panel * taps * channels * PanelGemm.rowsPerPanel, origin,
                                                           rowOffsets: offsets.baseAddress!, depth: channels * taps,
                                                           firstRow: firstRow, rowCount: min(PanelGemm.rowsPerPanel, m - firstRow),
                                                           column: oh * g.outWidth + ow,
                                                           width: min(PanelGemm.columnsPerTile, g.outWidth - ow), n: spatialOut,
                                                           bias: bias, residual: imageResidual, activation: activation, c: imageOut)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
