import ManakoCore

/// How an image becomes a network input: crop, resize, scale and normalise, lay out.
public struct Preprocessing: Sendable, Equatable {
    /// Geometry before normalisation.
    public enum Geometry: Sendable, Equatable {
        /// Centre-crop a square of side floor(min(W, H) * fraction), then resize it to the target
        /// (TensorFlow's EfficientNet evaluation pipeline).
        case centerCropThenResize(fraction: Double)
        /// Resize the shorter side to `shorterSide` (aspect kept), then centre-crop the target
        /// (torchvision's Resize + CenterCrop).
        case resizeThenCenterCrop(shorterSide: Int)
        /// Resize straight to the target, ignoring the aspect ratio.
        case resize
    }

    public var geometry: Geometry
    public var filter: ResampleFilter
    public var width: Int
    public var height: Int
    /// Per-channel (R, G, B) mean and std on the 0...255 scale: x = (pixel - mean) / std.
    public var mean: [Float]
    public var std: [Float]

    public init(geometry: Geometry, filter: ResampleFilter, width: Int, height: Int, mean: [Float], std: [Float]) {
        self.geometry = geometry
        self.filter = filter
        self.width = width
        self.height = height
        self.mean = mean
        self.std = std
    }

    /// The default model's pipeline: crop the central 224/256 square, bicubic to 224, (x - 127) / 128.
    public static let efficientNetLite = Preprocessing(
        geometry: .centerCropThenResize(fraction: 224.0 / 256.0), filter: .bicubic, width: 224, height: 224,
        mean: [127, 127, 127], std: [128, 128, 128])

    /// torchvision's ImageNet evaluation: shorter side 256 bilinear (antialiased), centre crop 224,
    /// /255 then ImageNet mean and std.
    public static let torchvision = Preprocessing(
        geometry: .resizeThenCenterCrop(shorterSide: 256), filter: .bilinear, width: 224, height: 224,
        mean: [0.485 * 255, 0.456 * 255, 0.406 * 255], std: [0.229 * 255, 0.224 * 255, 0.225 * 255])

    public static let presets: [String: Preprocessing] = ["efficientnet-lite": efficientNetLite, "torchvision": torchvision]

    /// The resized and cropped 8-bit image, before normalisation.
    public func geometricallyTransformed(_ image: RGBImage) throws -> RGBImage {
        switch geometry {
        case .centerCropThenResize(let fraction):
            let side = max(1, Int(Double(min(image.width, image.height)) * fraction))
            let crop = try image.cropped(left: (image.width - side) / 2, top: (image.height - side) / 2, width: side, height: side)
            return try Resampler.resize(crop, width: width, height: height, filter: filter)
        case .resizeThenCenterCrop(let shorterSide):
            // torchvision: the shorter side becomes `shorterSide`, the longer int(shorterSide * long / short).
            let (w, h) = image.width <= image.height
                ? (shorterSide, Int(Double(shorterSide) * Double(image.height) / Double(image.width)))
                : (Int(Double(shorterSide) * Double(image.width) / Double(image.height)), shorterSide)
            let resized = try Resampler.resize(image, width: w, height: h, filter: filter)
            guard w >= width, h >= height else {
                throw ManakoError(.invalidArgument, "resized image \(w)x\(h) is smaller than the crop \(width)x\(height)")
            }
            let left = Int((Double(w - width) / 2).rounded(.toNearestOrEven))
            let top = Int((Double(h - height) / 2).rounded(.toNearestOrEven))
            return try resized.cropped(left: left, top: top, width: width, height: height)
        case .resize:
            return try Resampler.resize(image, width: width, height: height, filter: filter)
        }
    }

    /// The network input: float32 [1, 3, height, width] (NCHW, RGB).
    public func tensor(from image: RGBImage) throws -> Tensor {
        let resized = try geometricallyTransformed(image)
        let plane = width * height
        var out = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { out[c * plane + i] = (Float(resized.pixels[i * 3 + c]) - mean[c]) / std[c] }
        }
        return Tensor(shape: [1, 3, height, width], floats: out)
    }
}
