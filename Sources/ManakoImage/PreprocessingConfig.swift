import ManakoCore

extension Preprocessing {
    /// A preprocessing from text: a preset name, or a JSON object. The object is either timm's
    /// data configuration (`input_size`, `interpolation`, `crop_pct`, `mean`, `std`, `crop_mode`)
    /// or Manako's: an optional `preset` to start from (default `torchvision`) and any of
    /// `resize` ("none", "exact", "shorter-side", "crop-fraction", "letterbox"), `resize_size`,
    /// `crop_fraction`, `fill`, `center_crop`, `width`, `height`, `interpolation`, `antialias`,
    /// `scale`, `mean`, `std`, `channel_order` ("rgb", "bgr"), `layout` ("nchw", "nhwc").
    public static func parse(_ text: String) throws -> Preprocessing {
        let trimmed = text.trimmingPrefix(while: { $0 == " " || $0 == "\n" })
        guard trimmed.first == "{" else {
            guard let preset = presets[trimmed.trimmingSuffix()] else {
                throw ManakoError(.invalidArgument, "unknown preprocessing preset '\(text)' (known: \(presets.keys.sorted().joined(separator: ", ")))")
            }
            return preset
        }
        let json = try JSON.parse(String(trimmed))
        return json["input_size"] != nil ? try timm(json) : try manako(json)
    }

    static func numbers(_ value: JSON?, _ key: String, count: Int) throws -> [Float]? {
        guard let value else { return nil }
        guard let items = value.array?.compactMap(\.number), items.count == count else {
            throw ManakoError(.invalidArgument, "'\(key)' must be a list of \(count) numbers")
        }
        return items.map { Float($0) }
    }

    static func filter(_ name: String) throws -> ResampleFilter {
        switch name {
        case "nearest": return .nearest
        case "bilinear", "linear": return .bilinear
        case "bicubic", "cubic": return .bicubic
        default: throw ManakoError(.invalidArgument, "unknown interpolation '\(name)' (nearest, bilinear, bicubic)")
        }
    }

    /// timm's evaluation transform: Resize(floor(size / crop_pct)), CenterCrop(size), /255, mean/std.
    static func timm(_ json: JSON) throws -> Preprocessing {
        guard let size = try numbers(json["input_size"], "input_size", count: 3), size[1] >= 1, size[2] >= 1, size[1] < 65536, size[2] < 65536 else {
            throw ManakoError(.invalidArgument, "'input_size' must be [3, height, width]")
        }
        let (height, width) = (Int(size[1]), Int(size[2]))
        let cropPct = json["crop_pct"]?.number ?? 0.875
        guard cropPct >= 0.01 && cropPct <= 1 else { throw ManakoError(.invalidArgument, "'crop_pct' must be in [0.01, 1]") }
        let mode = json["crop_mode"]?.string ?? "center"
        guard mode == "center" || mode == "squash" else { throw ManakoError(.invalidArgument, "crop_mode '\(mode)' is not supported (center, squash)") }
        let scaled = Int((Double(min(height, width)) / cropPct).rounded(.down))
        return Preprocessing(
            resize: mode == "squash" ? .exact : .shorterSide(scaled), filter: try filter(json["interpolation"]?.string ?? "bicubic"),
            centerCrop: mode == "center", width: width, height: height, scale: 1.0 / 255,
            mean: try numbers(json["mean"], "mean", count: 3) ?? imageNetMean, std: try numbers(json["std"], "std", count: 3) ?? imageNetStd)
    }

    static func manako(_ json: JSON) throws -> Preprocessing {
        guard case .object(let fields) = json else { throw ManakoError(.invalidArgument, "a preprocessing configuration must be a JSON object") }
        let known: Set<String> = ["preset", "resize", "resize_size", "crop_fraction", "fill", "center_crop", "width", "height", "interpolation",
                                  "antialias", "scale", "mean", "std", "channel_order", "layout"]
        if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
            throw ManakoError(.invalidArgument, "unknown preprocessing key '\(unknown)'")
        }
        var p = try parse(json["preset"]?.string ?? "torchvision")
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = json[key] else { return nil }
            // Compared as a Double first: converting 1e20 to Int would trap.
            guard let n = v.number, n == n.rounded(), n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
                throw ManakoError(.invalidArgument, "'\(key)' must be an integer in \(range)")
            }
            return Int(n)
        }
        if let w = try integer("width", 1...65535) { p.width = w }
        if let h = try integer("height", 1...65535) { p.height = h }
        if let resize = json["resize"]?.string {
            switch resize {
            case "none": p.resize = .none
            case "exact": p.resize = .exact
            case "shorter-side":
                guard let size = try integer("resize_size", 1...65535) else { throw ManakoError(.invalidArgument, "'shorter-side' needs 'resize_size'") }
                p.resize = .shorterSide(size)
            case "crop-fraction":
                guard let f = json["crop_fraction"]?.number, f > 0, f <= 1 else { throw ManakoError(.invalidArgument, "'crop-fraction' needs 'crop_fraction' in (0, 1]") }
                p.resize = .cropFraction(f)
            case "letterbox": p.resize = .letterbox(fill: UInt8(try integer("fill", 0...255) ?? 0))
            default: throw ManakoError(.invalidArgument, "unknown resize '\(resize)'")
            }
        }
        if let c = json["center_crop"] { guard let b = c.bool else { throw ManakoError(.invalidArgument, "'center_crop' must be true or false") }; p.centerCrop = b }
        if let a = json["antialias"] { guard let b = a.bool else { throw ManakoError(.invalidArgument, "'antialias' must be true or false") }; p.antialias = b }
        if let name = json["interpolation"]?.string { p.filter = try filter(name) }
        if let s = json["scale"] { guard let n = s.number else { throw ManakoError(.invalidArgument, "'scale' must be a number") }; p.scale = Float(n) }
        if let m = try numbers(json["mean"], "mean", count: 3) { p.mean = m }
        if let s = try numbers(json["std"], "std", count: 3) { p.std = s }
        if let o = json["channel_order"] {
            guard let order = o.string.flatMap(ChannelOrder.init(rawValue:)) else { throw ManakoError(.invalidArgument, "'channel_order' must be rgb or bgr") }
            p.channelOrder = order
        }
        if let l = json["layout"] {
            guard let layout = l.string.flatMap(Layout.init(rawValue:)) else { throw ManakoError(.invalidArgument, "'layout' must be nchw or nhwc") }
            p.layout = layout
        }
        return p
    }
}

extension Substring {
    func trimmingSuffix() -> String {
        var s = self
        while let last = s.last, last == " " || last == "\n" || last == "\r" || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
