import Foundation
import ManakoCore
import ManakoImage
import Testing

/// Tensors and images made by torchvision, Keras, timm and OpenCV themselves
/// (scripts/make-preprocessing-fixtures.py), against Manako's presets and configurations.
let preprocessingFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Preprocessing").path
let samplePhoto: RGBImage = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    return try! ImageDecoder.decode(try! FileIO.read(root + "/Resources/chelsea.png"))
}()

func framework(_ name: String) throws -> Tensor {
    try NPY.read(try FileIO.read(preprocessingFixtures + "/" + name), name: name)
}

/// The synthetic image the fixture script makes: (7x + 13y + 29c + (x*y) % 17) % 256.
func syntheticImage(_ w: Int, _ h: Int) throws -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h { for x in 0..<w { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = UInt8((7 * x + 13 * y + 29 * c + (x * y) % 17) % 256) } } }
    return try RGBImage(width: w, height: h, pixels: pixels)
}

/// Element-wise within `tolerance`, where a framework that resizes in 8 bits through Pillow may
/// also be one pixel level away (1 / (255 * std) in tensor units).
func expectSameTensor(_ ours: Tensor, _ theirs: Tensor, levelStep: Float? = nil, _ what: String) throws {
    #expect(ours.shape == theirs.shape, "\(what): shape \(ours.shape) vs \(theirs.shape)")
    guard ours.shape == theirs.shape else { return }
    let (a, b) = (try ours.floats(), try theirs.floats())
    let allowed = 1e-5 + (levelStep ?? 0) * 1.0001
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= allowed, "\(what): max difference \(worst)")
}

@Test func torchvisionPresetMatchesTorchvision() throws {
    var p = Preprocessing.torchvision
    p.resize = .shorterSide(36)
    p.width = 32
    p.height = 32
    try expectSameTensor(try p.tensor(from: samplePhoto), try framework("torchvision_small.npy"), levelStep: 1 / (255 * 0.224), "torchvision")
    let full = try Preprocessing.torchvision.geometricallyTransformed(samplePhoto)
    let expected = try framework("torchvision_224.npy").int64s()
    #expect(zip(full.pixels, expected).map { abs(Int64($0) - $1) }.max()! <= 1, "torchvision 224")
}

@Test(arguments: ["caffe", "tf", "torch"])
func kerasPresetsMatchKeras(_ mode: String) throws {
    var p = Preprocessing.presets["keras-\(mode)"]!
    p.width = 36
    p.height = 28
    try expectSameTensor(try p.tensor(from: samplePhoto), try framework("keras-\(mode)_small.npy"), "keras-\(mode)")
    if mode == "tf" {
        let full = try Preprocessing.kerasTF.geometricallyTransformed(samplePhoto)
        #expect(full.pixels.map(Int64.init) == (try framework("keras_224.npy").int64s()), "keras load_img at 224")
    }
}

@Test func timmConfigurationMatchesTimm() throws {
    let config = try String(contentsOfFile: preprocessingFixtures + "/timm_config.json", encoding: .utf8)
    let p = try Preprocessing.parse(config)
    try expectSameTensor(try p.tensor(from: samplePhoto), try framework("timm_small.npy"), levelStep: 1 / (255 * 0.224), "timm")
}

@Test(arguments: ResampleFilter.allCases)
func resizeWithoutAntialiasMatchesOpenCV(_ filter: ResampleFilter) throws {
    let down = try Resampler.resizeWithoutAntialias(samplePhoto, width: 64, height: 40, filter: filter)
    let patch = try samplePhoto.cropped(left: 200, top: 100, width: 80, height: 60)
    let up = try Resampler.resizeWithoutAntialias(patch, width: 120, height: 90, filter: filter)
    for (ours, name) in [(down, "opencv_\(filter.rawValue)_64x40.npy"), (up, "opencv_\(filter.rawValue)_upscaled.npy")] {
        let theirs = try framework(name).int64s()
        let worst = zip(ours.pixels, theirs).map { abs(Int64($0) - $1) }.max()!
        // OpenCV works in 11-bit fixed point; Manako in float: one level apart at most.
        #expect(worst <= 1, "\(name): \(worst) levels")
    }
}

@Test(arguments: [(1, 1), (3, 1000), (1000, 3), (4000, 3000)])
func oddSizesMatchTheFrameworks(_ size: (Int, Int)) throws {
    let image = try syntheticImage(size.0, size.1)
    var tv = Preprocessing.torchvision
    tv.resize = .shorterSide(36)
    tv.width = 32
    tv.height = 32
    try expectSameTensor(try tv.tensor(from: image), try framework("synthetic_\(size.0)x\(size.1)_torchvision.npy"),
                         levelStep: 1 / (255 * 0.224), "torchvision \(size)")
    var keras = Preprocessing.kerasTorch
    keras.width = 32
    keras.height = 32
    try expectSameTensor(try keras.tensor(from: image), try framework("synthetic_\(size.0)x\(size.1)_keras-torch.npy"), "keras \(size)")
}

@Test func configurationsParseAndRefuseNonsense() throws {
    let p = try Preprocessing.parse(#"{"preset": "keras-caffe", "resize": "letterbox", "fill": 114, "width": 64, "height": 48, "layout": "nchw"}"#)
    #expect(p.resize == .letterbox(fill: 114) && p.layout == .nchw && p.channelOrder == .bgr && p.width == 64)
    #expect(try Preprocessing.parse("torchvision") == Preprocessing.torchvision)
    let letterboxed = try p.geometricallyTransformed(try syntheticImage(100, 20))
    #expect(letterboxed.width == 64 && letterboxed.height == 48)
    #expect(Array(letterboxed.pixels.prefix(3)) == [114, 114, 114])  // the top band is padding
    for bad in [#"{"resize": "sideways"}"#, #"{"mean": [1, 2]}"#, #"{"colour": "blue"}"#, #"{"width": -3}"#, "{", "no-such-preset",
                #"{"input_size": [3, 0, 5]}"#] {
        #expect(throws: ManakoError.self, "\(bad)") { try Preprocessing.parse(bad) }
    }
}

@Test func jsonReaderHandlesTheGrammar() throws {
    let value = try JSON.parse(#" {"a": [1, -2.5e1, true, null, "x\n\u0041"], "b": {}} "#)
    #expect(value["a"]?.array?.count == 5)
    #expect(value["a"]?.array?[1].number == -25)
    #expect(value["a"]?.array?[4].string == "x\nA")
    #expect(throws: ManakoError.self) { try JSON.parse(String(repeating: "[", count: 100)) }
    #expect(throws: ManakoError.self) { try JSON.parse(#"{"a": 1} extra"#) }
}

@Test func secondPhotoAsJPEGMatchesTheFrameworks() throws {
    let coffee = try ImageDecoder.decode(try FileIO.read(preprocessingFixtures + "/coffee.jpg"))
    var tv = Preprocessing.torchvision
    tv.resize = .shorterSide(36)
    tv.width = 32
    tv.height = 32
    try expectSameTensor(try tv.tensor(from: coffee), try framework("coffee_torchvision_small.npy"), levelStep: 1 / (255 * 0.224), "coffee torchvision")
    var keras = Preprocessing.kerasCaffe
    keras.width = 36
    keras.height = 28
    try expectSameTensor(try keras.tensor(from: coffee), try framework("coffee_keras-caffe_small.npy"), "coffee keras-caffe")
    let config = try String(contentsOfFile: preprocessingFixtures + "/timm_config.json", encoding: .utf8)
    try expectSameTensor(try Preprocessing.parse(config).tensor(from: coffee), try framework("coffee_timm_small.npy"),
                         levelStep: 1 / (255 * 0.224), "coffee timm")
}
