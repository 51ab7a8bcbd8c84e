#if canImport(Glibc)
import Glibc
#endif

/// Float buffers recycled between the nodes of a run and across runs, so that after the first
/// run the kernels write into memory that is already mapped (a fresh array per output costs
/// page faults and kernel zeroing whenever the allocator has returned memory to the system).
/// A graph keeps one pool per concurrent run; a pool matches buffers by exact element count
/// (and, on one thread, lends a larger aligned one of up to twice the size), so it settles at
/// one set of buffers per distinct shape schedule (a batch size, say).
public final class BufferPool: @unchecked Sendable {
    private var free: [Int: [[Float]]] = [:]
    /// 64-byte-aligned buffers (the channel-blocked kernels' outputs), by element count.
    private var freeAligned: [Int: [AlignedFloats]] = [:]
    /// Runs this pool has served, and the last run that asked for or returned each size.
    private var runs = 0
    private var lastUsed: [Int: Int] = [:]
    /// True while a load sizes the pool with a dry run: requests take or allocate their buffer
    /// as a real run would, but nothing is computed into it.
    var sizing = false
    /// The shape-derived values this pool's runs keep for the next (created by the graph).
    var shapeValues: ShapeValues?
    /// Buffers this pool allocated during its latest run: nodes' outputs (zero once the pool
    /// holds a run's set), and scratch a kernel asked for while it wrote an output (the first
    /// real run of a shape takes it: a sizing run writes no output).
    public private(set) var allocationsLastRun = Allocations()
    private var allocations = Allocations()
    /// Outputs being written (fills) on the pool's thread: a request made inside one is scratch.
    private var fillDepth = 0

    public struct Allocations: Sendable, Equatable {
        public var outputs = 0, scratch = 0
        public init() {}
    }

    public init() {}

    /// Runs a size may go unused before its buffers are dropped: long enough for a model that
    /// alternates between a few input sizes, short enough that one fed ever new sizes (photos of
    /// every resolution through a dynamic-size model) does not keep them all.
    public static let idleRunsBeforeTrim = 8

    /// A recycled array of exactly `count` elements, if one is free.
    func take(_ count: Int) -> [Float]? {
        serve(count)
        return free[count]?.popLast()
    }

    /// Buffers of each size out of the pool in this run (served and not given back), and the
    /// most a run has had out at once: a size keeps that many when they come back.
    private var outstanding: [Int: Int] = [:]
    private var mostOutstanding: [Int: Int] = [:]

    /// Counts a request served from (or allocated for) buffers of `size` elements.
    private func serve(_ size: Int) {
        lastUsed[size] = runs
        let out = outstanding[size, default: 0] + 1
        outstanding[size] = out
        if out > mostOutstanding[size, default: 0] { mostOutstanding[size] = out }
    }

    /// Ends a run: drops the buffers of sizes no run has used for `idleRunsBeforeTrim` runs.
    func finishRun() {
        runs += 1
        allocationsLastRun = allocations
        allocations = Allocations()
        // (A run's outputs go to its caller and never come back.)
        outstanding = [:]
        let stale = lastUsed.filter { runs - $0.value > BufferPool.idleRunsBeforeTrim }.map(\.key)
        for size in stale {
            free[size] = nil
            freeAligned[size] = nil
            lastUsed[size] = nil
            mostOutstanding[size] = nil
        }
    }

    /// Buffers kept per size at least; a size keeps as many as a run has had out of the pool at
    /// once when that is more (DenseNet's 32-channel layer outputs, 24 alive at the end of a dense
    /// block: with four kept, its runs allocated 54 buffers each). Not more: operators that do not
    /// draw from the pool (broadcasting arithmetic, say) would otherwise make it grow every run.
    static let buffersPerSize = 4

    /// Keeps `buffer` for a later request of the same size (up to `buffersPerSize`, or as many
    /// as a run has had out at once).
    func give(_ buffer: [Float]) { keep(buffer, count: buffer.count, in: &free) }

    /// Keeps `buffer` for a later request of its capacity or somewhat less (as many per capacity
    /// as `give(_: [Float])` keeps).
    func give(_ buffer: AlignedFloats) {
        // A borrowed input is the caller's memory: handing it out as scratch would overwrite it.
        guard buffer.owned else { return }
        keep(buffer, count: buffer.capacity, in: &freeAligned)
    }

    private func keep<Buffer>(_ buffer: Buffer, count: Int, in lists: inout [Int: [Buffer]]) {
        if count == 0 { return }
        lastUsed[count] = runs
        outstanding[count] = max(0, outstanding[count, default: 0] - 1)
        let kept = max(BufferPool.buffersPerSize, mostOutstanding[count, default: 0])
        if lists[count, default: []].count < kept { lists[count, default: []].append(buffer) }
    }

    /// An aligned buffer of exactly `count` elements that no tensor holds any more, if one is
    /// free. (One given back while a Reshape's output, say, still shares it is dropped here: an
    /// aligned buffer is written through a pointer, with no copy-on-write to protect the sharer.)
    func takeAligned(_ count: Int) -> AlignedFloats? {
        lastUsed[count] = runs
        /// A free buffer of `capacity` floats that no tensor holds, lent for `count` of them.
        func lend(_ capacity: Int) -> AlignedFloats? {
            while var candidate = freeAligned[capacity]?.popLast() {
                if isKnownUniquelyReferenced(&candidate) {
                    candidate.count = count
                    return candidate
                }
            }
            return nil
        }
        if let exact = lend(count) {
            serve(count)
            return exact
        }
        // Else, on one thread, the smallest free buffer that holds it with at most twice its
        // size: the values of a run then share memory across shapes (the stem's output later
        // holds a block's), so fewer distinct megabytes pass through the caches each run
        // (MobileNetV2's pool held 10.4 MB in 16 sizes with exact sizes only). On several
        // threads a buffer is best written by the same split of the same layer every run, on
        // the cores that hold its lines (SqueezeNet 1-3 % slower on two threads with sharing).
        if count >= BufferPool.sharedFrom, Parallel.threads == 1 {
            while let capacity = freeAligned.keys.filter({ $0 > count && $0 <= 2 * count && freeAligned[$0]?.isEmpty == false }).min() {
                lastUsed[capacity] = runs
                if let shared = lend(capacity) {
                    serve(capacity)
                    return shared
                }
            }
        }
        serve(count)  // for the buffer the caller allocates
        return nil
    }

    /// Requests from this many floats (64 KB) up may take a larger free buffer.
    static let sharedFrom = 1 << 14

    /// Floats held for reuse (for reports and tests).
    public var heldElements: Int {
        free.reduce(0) { $0 + $1.key * $1.value.count } + freeAligned.reduce(0) { $0 + $1.key * $1.value.count }
    }

    static let slot = ThreadLocalWord()

    /// The pool of the run on the calling thread (nil outside a graph run and on workers).
    static var current: BufferPool? {
        slot.value.map { Unmanaged<BufferPool>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with `pool` as the calling thread's current pool.
    static func with<T>(_ pool: BufferPool, _ body: () throws -> T) rethrows -> T {
        try slot.with(Unmanaged.passUnretained(pool).toOpaque(), body)
    }

    /// An array of `count` floats whose every element `fill` writes: recycled from the current
    /// run's pool when one of that size is free, otherwise new. (A recycled array still shared
    /// elsewhere, say by a Reshape's output, is copied by Swift before the write: never aliased.)
    /// In a sizing run `fill` is not called: the contents are left as they are.
    @inline(__always)
    public static func floats(_ count: Int, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
        if count == 0 { return [] }
        let pool = current
        let sizing = pool?.sizing ?? false
        if var recycled = pool?.take(count) {
            if !sizing { recycled.withUnsafeMutableBufferPointer { write(into: $0, of: pool, fill) } }
            return recycled
        }
        pool?.countAllocation()
        return [Float].uninitialized(capacity: count) { buffer, initialized in
            // A sizing run leaves the new memory untouched: its pages fault in on first write.
            if !sizing { write(into: buffer, of: pool, fill) }
            initialized = count
        }
    }

    /// `count` floats on 64-byte lines whose every element `fill` writes: recycled from the
    /// current run's pool when one of that size is free and unshared, otherwise new.
    /// In a sizing run `fill` is not called: the contents are left as they are.
    @inline(__always)
    public static func alignedFloats(_ count: Int, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) -> AlignedFloats {
        let pool = current
        let sizing = pool?.sizing ?? false
        if let recycled = pool?.takeAligned(count) {
            if !sizing { write(into: recycled.mutableBuffer, of: pool, fill) }
            return recycled
        }
        pool?.countAllocation()
        return AlignedFloats(count: count) { if !sizing { write(into: $0, of: pool, fill) } }
    }

    /// Runs `fill` on memory an operator already holds (an input it writes over), except in a
    /// sizing run.
    @inline(__always)
    public static func write(into buffer: UnsafeMutableBufferPointer<Float>, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let pool = current
        if pool?.sizing != true { write(into: buffer, of: pool, fill) }
    }

    /// Runs `fill`, its pool requests counted as scratch.
    @inline(__always)
    private static func write(into buffer: UnsafeMutableBufferPointer<Float>, of pool: BufferPool?,
                              _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        pool?.fillDepth += 1
        fill(buffer)
        pool?.fillDepth -= 1
    }

    /// Whether the calling thread's graph run is a sizing run (a load's dry run).
    public static var isSizing: Bool { current?.sizing ?? false }

    /// In a sizing run, takes or allocates the scratch a kernel's fill would draw from the pool
    /// (`floats` as arrays, `aligned` on 64-byte lines; all out at once, as within one fill),
    /// then gives it back, so the first real run finds it. Kernels state these sizes with the
    /// split logic their runs use (`poolScratch`). Outside a sizing run, nothing.
    public static func reserveScratch(floats: [Int] = [], aligned: [Int] = []) {
        guard let pool = current, pool.sizing else { return }
        pool.fillDepth += 1
        let taken = (floats.map { Self.floats($0) { _ in } }, aligned.map { alignedFloats($0) { _ in } })
        pool.fillDepth -= 1
        for buffer in taken.0 { pool.give(buffer) }
        for buffer in taken.1 { pool.give(buffer) }
    }

    private func countAllocation() {
        if fillDepth == 0 { allocations.outputs += 1 } else { allocations.scratch += 1 }
    }

    /// Returns a scratch array to the current run's pool.
    public static func recycle(_ buffer: [Float]) {
        current?.give(buffer)
    }

    /// Returns aligned scratch to the current run's pool.
    public static func recycle(_ buffer: AlignedFloats) {
        current?.give(buffer)
    }
}

/// The pools of a graph: one checked out per run in progress.
final class BufferPools: Sendable {
    private let idle = Locked<[BufferPool]>([])

    func checkOut() -> BufferPool {
        idle.withLock { $0.popLast() } ?? BufferPool()
    }

    func checkIn(_ pool: BufferPool) {
        pool.finishRun()
        idle.withLock { $0.append(pool) }
    }

    /// Floats held by the idle pools.
    var heldElements: Int { idle.withLock { $0.reduce(0) { $0 + $1.heldElements } } }

    /// The buffers the most recently finished run allocated.
    var allocationsLastRun: BufferPool.Allocations { idle.withLock { $0.last?.allocationsLastRun ?? BufferPool.Allocations() } }
}
