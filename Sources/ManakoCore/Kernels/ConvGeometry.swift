/// How padding is chosen for a convolution or pooling window (ONNX `auto_pad`).
public enum AutoPad: Sendable, Equatable {
    case explicit
    case sameUpper
    case sameLower
    case valid
}

/// Shapes of a 2-D sliding-window operation (convolution or pooling), NCHW.
/// 1-D windows are run as 2-D with a height of one.
public struct WindowGeometry: Sendable, Equatable {
    public var batch, inChannels, inHeight, inWidth: Int
    public var kernelHeight, kernelWidth: Int
    public var strideHeight, strideWidth: Int
    public var dilationHeight, dilationWidth: Int
    public var padTop, padLeft, padBottom, padRight: Int
    public var outHeight, outWidth: Int

    /// Resolves padding and output size the ONNX way.
    /// `pads` is [top, left, bottom, right]; `ceilMode` is for pooling.
    public init(input: [Int], kernel: (Int, Int), strides: (Int, Int), dilations: (Int, Int),
                pads: [Int], autoPad: AutoPad, ceilMode: Bool = false) throws {
        guard input.count == 4 else {
            throw ManakoError(.shapeMismatch, "expected a 4-D NCHW input, got shape \(input)")
        }
        guard kernel.0 > 0, kernel.1 > 0, strides.0 > 0, strides.1 > 0, dilations.0 > 0, dilations.1 > 0 else {
            throw ManakoError(.invalidModel, "kernel, strides and dilations must be positive, got kernel \(kernel), strides \(strides), dilations \(dilations)")
        }
        guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else {
            throw ManakoError(.invalidModel, "pads must be 4 non-negative numbers, got \(pads)")
        }
        // Bounded so that no size arithmetic below can overflow, whatever a file says.
        let largest = 1 << 30
        guard [kernel.0, kernel.1, strides.0, strides.1, dilations.0, dilations.1].allSatisfy({ $0 <= largest }),
              pads.allSatisfy({ $0 <= largest }), input.allSatisfy({ $0 >= 0 && $0 <= largest }) else {
            throw ManakoError(.limitExceeded, "window attributes or input size over 2^30: kernel \(kernel), strides \(strides), dilations \(dilations), pads \(pads), input \(input)")
        }
        batch = input[0]; inChannels = input[1]; inHeight = input[2]; inWidth = input[3]
        kernelHeight = kernel.0; kernelWidth = kernel.1
        strideHeight = strides.0; strideWidth = strides.1
        dilationHeight = dilations.0; dilationWidth = dilations.1
        func resolve(_ size: Int, _ k: Int, _ s: Int, _ d: Int, _ begin: Int, _ end: Int) throws -> (Int, Int, Int) {
            let span = (k - 1) * d + 1
            switch autoPad {
            case .explicit:
                let room = size + begin + end - span
                guard room >= 0 else {
                    throw ManakoError(.shapeMismatch, "window of span \(span) does not fit input size \(size) with pads (\(begin), \(end))")
                }
                var out = (ceilMode ? (room + s - 1) / s : room / s) + 1
                // A window must start inside the input or the leading padding (PyTorch and ONNX Runtime agree).
                if ceilMode && (out - 1) * s >= size + begin { out -= 1 }
                return (begin, end, out)
            case .valid:
                guard size >= span else {
                    throw ManakoError(.shapeMismatch, "window of span \(span) does not fit input size \(size)")
                }
                return (0, 0, (size - span) / s + 1)
            case .sameUpper, .sameLower:
                let out = (size + s - 1) / s
                let total = max(0, (out - 1) * s + span - size)
                let head = autoPad == .sameUpper ? total / 2 : (total + 1) / 2
                return (head, total - head, out)
            }
        }
        (padTop, padBottom, outHeight) = try resolve(inHeight, kernel.0, strides.0, dilations.0, pads[0], pads[2])
        (padLeft, padRight, outWidth) = try resolve(inWidth, kernel.1, strides.1, dilations.1, pads[1], pads[3])
        try ElementLimit.check([batch, max(inChannels, 1), outHeight, outWidth], "window output")
    }
}

extension WindowGeometry {
    /// Builds the geometry from ONNX-style per-axis lists for a 3-D (NCW) or 4-D (NCHW) input;
    /// 1-D windows become 2-D ones of height one. Missing lists take ONNX defaults.
    public static func make(input: [Int], kernel: [Int], strides: [Int]?, dilations: [Int]?, pads: [Int]?,
                            autoPad: AutoPad, ceilMode: Bool = false) throws -> WindowGeometry {
        let spatial = input.count - 2
        guard spatial == 1 || spatial == 2 else {
            throw ManakoError(.unsupportedOperator, "only 1-D and 2-D windows are supported, input has shape \(input)")
        }
        let s = strides ?? Array(repeating: 1, count: spatial)
        let d = dilations ?? Array(repeating: 1, count: spatial)
        let p = pads ?? Array(repeating: 0, count: 2 * spatial)
        guard kernel.count == spatial, s.count == spatial, d.count == spatial, p.count == 2 * spatial else {
            throw ManakoError(.invalidModel, "kernel \(kernel), strides \(s), dilations \(d) and pads \(p) do not match \(spatial) spatial axes")
        }
        if spatial == 1 {
            return try WindowGeometry(input: [input[0], input[1], 1, input[2]], kernel: (1, kernel[0]),
                                      strides: (1, s[0]), dilations: (1, d[0]), pads: [0, p[0], 0, p[1]],
                                      autoPad: autoPad, ceilMode: ceilMode)
        }
        return try WindowGeometry(input: input, kernel: (kernel[0], kernel[1]), strides: (s[0], s[1]),
                                  dilations: (d[0], d[1]), pads: [p[0], p[1], p[2], p[3]],
                                  autoPad: autoPad, ceilMode: ceilMode)
    }

    /// The output shape in the input's rank (drops the unit height of 1-D windows).
    public func outputShape(channels: Int, spatialRank: Int) -> [Int] {
        spatialRank == 1 ? [batch, channels, outWidth] : [batch, channels, outHeight, outWidth]
    }
}

extension WindowGeometry {
    /// Output shapes of a pooling window over [N, C, spatial...] for shape inference: unknown
    /// spatial sizes give unknown outputs.
    public static func poolShapes(_ x: [Int?], kernel: [Int], strides: [Int]?, dilations: [Int]?, pads: [Int]?,
                                  autoPad: AutoPad, ceilMode: Bool) throws -> [[Int?]?]? {
        guard x.count >= 3 else { return nil }
        let spatial = Array(x[2...])
        guard spatial.allSatisfy({ $0 != nil }) else { return [[x[0], x[1]] + spatial.map { _ in nil }] }
        let g = try make(input: [1, 1] + spatial.map { $0! }, kernel: kernel, strides: strides, dilations: dilations,
                         pads: pads, autoPad: autoPad, ceilMode: ceilMode)
        return [[x[0], x[1]] + g.outputShape(channels: 1, spatialRank: spatial.count).dropFirst(2).map { $0 }]
    }
}
