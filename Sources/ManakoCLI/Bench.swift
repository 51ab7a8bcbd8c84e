import ArgumentParser
import Foundation
import Manako

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a model: median, minimum and p90 latency, throughput, load time, peak memory.")

    @Option(help: "ONNX model (default: the bundled one).") var model: String?
    @Option(help: "Threads for the linear-algebra kernels.") var threads: Int?
    @Option(help: "Batch size (for a symbolic or fixed first dimension).") var batch: Int = 1
    @Option(help: "Timed runs, after 3 warm-up runs.") var runs: Int = 20
    @OptionGroup(title: "Limits") var limits: LimitOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "After timing, print where one run spends its time, by operator type and by node.") var profile = false
    @Option(help: "With --profile, how many of the slowest nodes to list.") var top = 15
    @Option(help: "Milliseconds of idleness before each timed run: the latency of a call that comes after a pause (a service between requests), not of back-to-back calls.")
    var pause: Double = 0

    func validate() throws {
        guard batch >= 1, runs >= 1 else { throw ValidationError("--batch and --runs must be at least 1") }
        guard pause >= 0, pause <= 60_000 else { throw ValidationError("--pause must be 0 to 60000 milliseconds") }
    }

    func run() throws {
        try reportingErrors {
            let start = ContinuousClock.now
            let loaded = try Model(path: try model ?? defaultModelPath(), options: limits.applied(to: ModelOptions(threads: threads)))
            let loadSeconds = (ContinuousClock.now - start).seconds
            let arenaMB = Double(loaded.graph.pooledElements * MemoryLayout<Float>.stride) / 1e6
            let feeds = try syntheticFeeds(loaded, batch: batch)
            _ = try loaded.run(feeds)
            let firstRun = loaded.graph.allocationsLastRun
            for _ in 0..<2 { _ = try loaded.run(feeds) }
            var times: [Double] = []
            for _ in 0..<runs {
                idle()
                let t = ContinuousClock.now
                _ = try loaded.run(feeds)
                times.append((ContinuousClock.now - t).seconds)
            }
            let lastRun = loaded.graph.allocationsLastRun
            times.sort()
            if profile { try printProfile(loaded, feeds) }
            let median = times[times.count / 2], p90 = times[min(times.count - 1, Int(Double(times.count) * 0.9))]
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let peakMB = Double(usage.ru_maxrss) / 1024
            if json {
                print("{\"model\": \(JSONText.string(try model ?? defaultModelPath())), \"threads\": \(threads ?? 0), \"batch\": \(batch), "
                      + "\"runs\": \(runs), \"median_ms\": \(median * 1000), \"min_ms\": \(times[0] * 1000), \"p90_ms\": \(p90 * 1000), "
                      + "\"images_per_second\": \(Double(batch) / median), \"load_ms\": \(loadSeconds * 1000), \"peak_memory_mb\": \(peakMB), "
                      + "\"arena_mb\": \(arenaMB), \"first_run_output_allocations\": \(firstRun.outputs), "
                      + "\"first_run_scratch_allocations\": \(firstRun.scratch), \"last_run_allocations\": \(lastRun.outputs + lastRun.scratch)}")
            } else {
                print(String(format: "latency: median %.2f ms, min %.2f ms, p90 %.2f ms (%d runs, batch %d)", median * 1000, times[0] * 1000, p90 * 1000, runs, batch))
                print(String(format: "throughput: %.1f images/s", Double(batch) / median))
                print(String(format: "load: %.1f ms, peak memory: %.1f MB", loadSeconds * 1000, peakMB))
                print(String(format: "arena sized at load: %.1f MB; the first run allocated %d outputs and %d scratch buffers, the last %d buffers",
                             arenaMB, firstRun.outputs, firstRun.scratch, lastRun.outputs + lastRun.scratch))
            }
        }
    }
}

extension Bench {
    /// Sleeps `pause` milliseconds (if any) before a run.
    func idle() {
        if pause > 0 { Thread.sleep(forTimeInterval: pause / 1000) }
    }
}

/// Inputs of the model's declared shapes (batch `batch`), filled with a fixed pseudo-random sequence.
func syntheticFeeds(_ loaded: Model, batch: Int) throws -> [String: Tensor] {
    var feeds: [String: Tensor] = [:]
    for info in loaded.inputs {
        guard let declared = info.shape else { throw ManakoError(.invalidArgument, "input '\(info.name)' has no declared shape") }
        let shape = try declared.enumerated().map { axis, dimension -> Int in
            if axis == 0 { return batch }
            guard case .fixed(let n) = dimension else {
                throw ManakoError(.invalidArgument, "input '\(info.name)' has a symbolic dimension at axis \(axis)")
            }
            return n
        }
        let count = shape.reduce(1, *)
        // A fixed linear congruential sequence in [-1, 1): the same input every run, and cheap.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        feeds[info.name] = Tensor(shape: shape, floats: (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        })
    }
    return feeds
}

extension Bench {
    /// Sums node times over `runs` profiled runs, then prints the share per operator type, per
    /// convolution kernel, and the slowest nodes.
    func printProfile(_ loaded: Model, _ feeds: [String: Tensor]) throws {
        var perNode: [NodeTiming] = []
        for run in 0..<runs {
            var timings: [NodeTiming] = []
            idle()
            _ = try loaded.run(feeds, profile: &timings)
            if run == 0 { perNode = timings } else { for i in perNode.indices { perNode[i].seconds += timings[i].seconds } }
        }
        let total = perNode.reduce(0) { $0 + $1.seconds }
        var byType: [String: (seconds: Double, count: Int)] = [:]
        for t in perNode { byType[t.opType, default: (0, 0)].seconds += t.seconds; byType[t.opType, default: (0, 0)].count += 1 }
        print(String(format: "profile: %.2f ms per run in %d nodes", total * 1000 / Double(runs), perNode.count))
        for (type, entry) in byType.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            print(String(format: "  %-22@ %4d nodes %9.3f ms %5.1f %%", type as NSString, entry.count,
                         entry.seconds * 1000 / Double(runs), 100 * entry.seconds / total))
        }
        // Convolutions by the kernel their plan names (the words before the first size or "+").
        var byKernel: [String: (seconds: Double, count: Int)] = [:]
        for t in perNode where t.opType == "Conv" {
            let words = (t.plan ?? "").split(separator: " ").prefix { !($0.first?.isNumber ?? true) && $0 != "+" }
            let kernel = words.isEmpty ? "other" : words.joined(separator: " ").trimmingCharacters(in: CharacterSet(charactersIn: ","))
            byKernel[kernel, default: (0, 0)].seconds += t.seconds
            byKernel[kernel, default: (0, 0)].count += 1
        }
        if !byKernel.isEmpty { print("convolutions by kernel:") }
        for (kernel, entry) in byKernel.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            print(String(format: "  %-22@ %4d nodes %9.3f ms %5.1f %%", kernel as NSString, entry.count,
                         entry.seconds * 1000 / Double(runs), 100 * entry.seconds / total))
        }
        print("slowest nodes:")
        for t in perNode.sorted(by: { $0.seconds > $1.seconds }).prefix(max(0, top)) {
            print(String(format: "  %9.3f ms  %@ (%@) -> %@%@", t.seconds * 1000 / Double(runs), t.name as NSString,
                         t.opType as NSString, "\(t.outputShape)" as NSString, (t.plan.map { ": " + $0 } ?? "") as NSString))
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
