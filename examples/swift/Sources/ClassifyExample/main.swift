// Usage: swift run ClassifyExample MODEL.onnx IMAGE.png
#if canImport(Glibc)
import Glibc
#endif
import Manako

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: ClassifyExample MODEL.onnx IMAGE.png")
    exit(2)
}
do {
    let model = try Model(path: arguments[1])
    for prediction in try model.classify(path: arguments[2], topK: 5) {
        let percent = (prediction.probability * 10000).rounded() / 100
        print("\(percent)%\t\(prediction.index)\t\(prediction.label ?? "?")")
    }
} catch let error as ManakoError {
    print("error: \(error.message)")
    exit(1)
}
