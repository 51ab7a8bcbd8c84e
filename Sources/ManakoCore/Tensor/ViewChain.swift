/// One way a node views its input without computing: what `GraphOptimizer.fuseAttention`
/// follows back from attention's operands, and what a Shape of such a view reads through.
public enum ViewStep: Sendable, Equatable {
    /// Transpose (nil: the axes reversed).
    case transpose([Int]?)
    /// Squeeze of the listed axes (nil: every axis of one).
    case squeeze([Int]?)
    /// Part `part` of a Split along `axis`: of the given sizes, or of `parts` near-equal ones.
    case split(axis: Int, part: Int, sizes: [Int]?, parts: Int)
    /// Gather of one index (a scalar) along `axis`.
    case gather(axis: Int, index: Int)
}

/// Steps applied in order to a dense tensor: the value the viewing nodes computed, as
/// lengths, strides and first element, with no copy.
public struct ViewChain: Sendable, Equatable {
    public var steps: [ViewStep]

    public init(steps: [ViewStep] = []) { self.steps = steps }

    /// The view of `source` (dense, row-major): its lengths, strides and first
    /// element. Throws what the unfused nodes would have (a bad axis, index or split).
    public func resolve(_ source: [Int]) throws -> (lengths: [Int], strides: [Int], offset: Int) {
        var (lengths, strides, offset) = (source, Tensor.strides(source), 0)
        func axis(_ a: Int) throws -> Int { try normalizedAxis(a, rank: lengths.count) }
        for step in steps {
            switch step {
            case .transpose(let permutation):
                let order = permutation ?? Array(lengths.indices.reversed())
                guard order.sorted() == Array(lengths.indices) else {
                    throw ManakoError(.shapeMismatch, "permutation \(order) for rank \(lengths.count)")
                }
                (lengths, strides) = (order.map { lengths[$0] }, order.map { strides[$0] })
            case .squeeze(let listed):
                let removed = try listed.map { try Set($0.map(axis)) } ?? Set(lengths.indices.filter { lengths[$0] == 1 })
                guard removed.allSatisfy({ lengths[$0] == 1 }) else {
                    throw ManakoError(.shapeMismatch, "cannot squeeze axes \(removed.sorted()) of \(lengths)")
                }
                let kept = lengths.indices.filter { !removed.contains($0) }
                (lengths, strides) = (kept.map { lengths[$0] }, kept.map { strides[$0] })
            case .split(let a, let part, let given, let parts):
                let a = try axis(a), n = lengths[a]
                let chunk = (n + max(1, parts) - 1) / max(1, parts)
                let sizes = given ?? (0..<max(1, parts)).map { max(0, min(chunk, n - $0 * chunk)) }
                guard part < sizes.count, sizes.allSatisfy({ $0 >= 0 && $0 <= n }), sizes.reduce(0, +) == n else {
                    throw ManakoError(.shapeMismatch, "split sizes \(sizes) do not add up to \(n)")
                }
                offset += sizes[..<part].reduce(0, +) * strides[a]
                lengths[a] = sizes[part]
            case .gather(let a, let index):
                let a = try axis(a), n = lengths[a]
                guard -n <= index && index < n else {
                    throw ManakoError(.shapeMismatch, "index \(index) outside an axis of \(n)")
                }
                offset += (index < 0 ? index + n : index) * strides[a]
                lengths.remove(at: a)
                strides.remove(at: a)
            }
        }
        return (lengths, strides, offset)
    }
}
