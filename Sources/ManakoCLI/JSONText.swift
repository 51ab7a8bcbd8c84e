import Manako

/// JSON output of the CLI, written by hand to keep key order stable.
enum JSONText {
    static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func classification(_ results: [(String, [Prediction])]) -> String {
        let objects = results.map { image, predictions in
            let top = predictions.map {
                "{\"index\": \($0.index), \"label\": \($0.label.map(string) ?? "null"), \"probability\": \($0.probability)}"
            }
            return "  {\"image\": \(string(image)), \"top\": [\(top.joined(separator: ", "))]}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]"
    }
}
