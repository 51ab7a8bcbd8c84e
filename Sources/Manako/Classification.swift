#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turning class scores into ranked probabilities.
public enum Classification {
    /// Softmax of `scores`, unless they already are probabilities (all in [0, 1], summing to 1
    /// within 1e-3), as models exported with a final Softmax produce.
    public static func probabilities(_ scores: [Float]) -> [Float] {
        let sum = scores.reduce(0, +)
        if scores.allSatisfy({ $0 >= 0 && $0 <= 1 }) && abs(sum - 1) < 1e-3 { return scores }
        let peak = scores.max() ?? 0
        let exps = scores.map { expf($0 - peak) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }

    /// Indices of the `k` largest values, largest first; ties keep the lower index first.
    public static func top(_ values: [Float], k: Int) -> [Int] {
        let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        return Array(order.prefix(max(0, k)))
    }
}
