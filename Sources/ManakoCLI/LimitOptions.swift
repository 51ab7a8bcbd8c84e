import ArgumentParser
import Manako

/// The resource limits, as command-line options shared by every command that loads a model.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("max-file-bytes"), help: "Largest model or external-data file (default 4 GiB).")
    var maxFileBytes: Int?
    @Option(name: .customLong("max-tensor-elements"), help: "Largest tensor, stored or computed, in elements (default 2^28).")
    var maxTensorElements: Int?
    @Option(name: .customLong("max-weight-bytes"), help: "Total size of the decoded weights (default 4 GiB).")
    var maxWeightBytes: Int?
    @Option(name: .customLong("max-nodes"), help: "Most nodes in the graph (default 100000).")
    var maxNodes: Int?
    @Option(name: .customLong("max-image-pixels"), help: "Largest image accepted, in pixels (default 100 M).")
    var maxImagePixels: Int?

    func validate() throws {
        for (flag, value) in [("--max-file-bytes", maxFileBytes), ("--max-tensor-elements", maxTensorElements),
                              ("--max-weight-bytes", maxWeightBytes), ("--max-nodes", maxNodes),
                              ("--max-image-pixels", maxImagePixels)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1") }
        }
    }

    /// `options` with every limit given on the command line.
    func applied(to options: ModelOptions = ModelOptions()) -> ModelOptions {
        var result = options
        if let maxFileBytes { result.limits.maxFileBytes = maxFileBytes }
        if let maxTensorElements { result.limits.maxTensorElements = maxTensorElements }
        if let maxWeightBytes { result.limits.maxWeightBytes = maxWeightBytes }
        if let maxNodes { result.limits.maxNodes = maxNodes }
        if let maxImagePixels { result.maxImagePixels = maxImagePixels }
        return result
    }
}
