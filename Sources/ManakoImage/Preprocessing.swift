import ManakoCore

/// How an image becomes a network input: geometry (resize, crop, letterbox), then per-channel
/// `(pixel * scale - mean) / std` on 0...255 pixels, in RGB or BGR order, laid out NCHW or NHWC.
public struct Preprocessing: Sendable, Equatable {
    public enum Resize: Sendable, Equatable {
        /// Keep the image's size (it must already be the target size).
        case none
        /// Straight to the target size, ignoring the aspect ratio (Keras' load_img).
        case exact
        /// The shorter side to `size`, the longer one int(size * long / short) (torchvision's Resize(int)).
        case shorterSide(Int)
        /// Centre-crop a square of side floor(min(W, H) * fraction), then resize it to the target
        /// (TensorFlow's EfficientNet evaluation pipeline).
        case cropFraction(Double)
        /// Fit inside the target keeping the aspect ratio, then pad evenly with `fill`.
        case letterbox(fill: UInt8)
    }

    public enum ChannelOrder: String, Sendable { case rgb, bgr }
    public enum Layout: String, Sendable { case nchw, nhwc }

    public var resize: Resize
    public var filter: ResampleFilter
    /// Widen the filter when shrinking, as Pillow and torchvision do; false samples as OpenCV does.
    public var antialias: Bool
    /// Centre-crop to the target size after resizing (torchvision's CenterCrop).
    public var centerCrop: Bool
    public var width: Int
    public var height: Int
    public var scale: Float
    /// Per output channel (in `channelOrder`), applied after `scale`.
    public var mean: [Float]
    public var std: [Float]
    public var channelOrder: ChannelOrder
    public var layout: Layout

    public init(resize: Resize, filter: ResampleFilter, antialias: Bool = true, centerCrop: Bool = false, width: Int, height: Int,
                scale: Float = 1, mean: [Float] = [0, 0, 0], std: [Float] = [1, 1, 1], channelOrder: ChannelOrder = .rgb,
                layout: Layout = .nchw) {
        self.resize = resize
        self.filter = filter
        self.antialias = antialias
        self.centerCrop = centerCrop
        self.width = width
        self.height = height
        self.scale = scale
        self.mean = mean
        self.std = std
        self.channelOrder = channelOrder
        self.layout = layout
    }

    static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// The default model's pipeline: crop the central 224/256 square, bicubic to 224, (x - 127) / 128.
    public static let efficientNetLite = Preprocessing(
        resize: .cropFraction(224.0 / 256.0), filter: .bicubic, width: 224, height: 224, mean: [127, 127, 127], std: [128, 128, 128])

    /// torchvision's ImageNet evaluation: shorter side 256 (bilinear, antialiased), centre crop 224,
    /// ToTensor (/255), ImageNet mean and std; NCHW.
    public static let torchvision = Preprocessing(
        resize: .shorterSide(256), filter: .bilinear, centerCrop: true, width: 224, height: 224, scale: 1.0 / 255,
        mean: imageNetMean, std: imageNetStd)

    /// Keras: load_img(target_size=(224, 224)) (nearest, aspect ignored), then preprocess_input
    /// in "caffe" mode: BGR, minus the BGR ImageNet means, no scaling; NHWC.
    public static let kerasCaffe = Preprocessing(
        resize: .exact, filter: .nearest, width: 224, height: 224, mean: [103.939, 116.779, 123.68], channelOrder: .bgr, layout: .nhwc)

    /// Keras, "tf" mode: x / 127.5 - 1; NHWC.
    public static let kerasTF = Preprocessing(
        resize: .exact, filter: .nearest, width: 224, height: 224, scale: 1.0 / 127.5, mean: [1, 1, 1], layout: .nhwc)

    /// Keras, "torch" mode: x / 255, ImageNet mean and std; NHWC.
    public static let kerasTorch = Preprocessing(
        resize: .exact, filter: .nearest, width: 224, height: 224, scale: 1.0 / 255, mean: imageNetMean, std: imageNetStd, layout: .nhwc)

    public static let presets: [String: Preprocessing] = [
        "efficientnet-lite": efficientNetLite, "torchvision": torchvision,
        "keras-caffe": kerasCaffe, "keras-tf": kerasTF, "keras-torch": kerasTorch,
    ]

    /// The resized and cropped 8-bit image, before normalisation.
    public func geometricallyTransformed(_ image: RGBImage) throws -> RGBImage {
        func resized(_ i: RGBImage, _ w: Int, _ h: Int) throws -> RGBImage {
            antialias ? try Resampler.resize(i, width: w, height: h, filter: filter)
                : try Resampler.resizeWithoutAntialias(i, width: w, height: h, filter: filter)
        }
        var result: RGBImage
        switch resize {
        case .none:
            result = image
        case .exact:
            result = try resized(image, width, height)
        case .cropFraction(let fraction):
            let side = max(1, Int(Double(min(image.width, image.height)) * fraction))
            let crop = try image.cropped(left: (image.width - side) / 2, top: (image.height - side) / 2, width: side, height: side)
            result = try resized(crop, width, height)
        case .shorterSide(let size):
            let (w, h) = image.width <= image.height
                ? (size, max(1, Int(Double(size) * Double(image.height) / Double(image.width))))
                : (max(1, Int(Double(size) * Double(image.width) / Double(image.height))), size)
            result = try resized(image, w, h)
        case .letterbox(let fill):
            let ratio = min(Double(width) / Double(image.width), Double(height) / Double(image.height))
            let w = max(1, min(width, Int((Double(image.width) * ratio).rounded()))), h = max(1, min(height, Int((Double(image.height) * ratio).rounded())))
            let inner = try resized(image, w, h)
            var canvas = [UInt8](repeating: fill, count: width * height * 3)
            let left = (width - w) / 2, top = (height - h) / 2
            for y in 0..<h {
                let src = y * w * 3, dst = ((top + y) * width + left) * 3
                canvas.replaceSubrange(dst..<(dst + w * 3), with: inner.pixels[src..<(src + w * 3)])
            }
            result = try RGBImage(width: width, height: height, pixels: canvas)
        }
        if centerCrop || (result.width != width || result.height != height) {
            guard result.width >= width, result.height >= height else {
                throw ManakoError(.invalidArgument, "image of \(result.width)x\(result.height) after resizing is smaller than the input size \(width)x\(height)")
            }
            // torchvision's CenterCrop offsets: int(round((size - crop) / 2)), rounding half to even.
            let left = Int((Double(result.width - width) / 2).rounded(.toNearestOrEven))
            let top = Int((Double(result.height - height) / 2).rounded(.toNearestOrEven))
            result = try result.cropped(left: left, top: top, width: width, height: height)
        }
        return result
    }

    /// The network input: float32 [1, 3, height, width] (NCHW) or [1, height, width, 3] (NHWC).
    public func tensor(from image: RGBImage) throws -> Tensor {
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 }) else {
            throw ManakoError(.invalidArgument, "mean and std need 3 values each, std non-zero")
        }
        let pixels = try geometricallyTransformed(image).pixels
        let plane = width * height
        let source = channelOrder == .rgb ? [0, 1, 2] : [2, 1, 0]
        var out = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 {
                let value = (Float(pixels[i * 3 + source[c]]) * scale - mean[c]) / std[c]
                out[layout == .nchw ? c * plane + i : i * 3 + c] = value
            }
        }
        return Tensor(shape: layout == .nchw ? [1, 3, height, width] : [1, height, width, 3], floats: out)
    }
}
