#if canImport(Glibc)
import Glibc
#endif
import CManakoSIMD
import Synchronization

/// How many threads the kernels of the current graph run may use, and the pool that runs them.
/// The allowance is set per run on the caller's thread (Graph.run through Model); workers see 1,
/// so parallel loops never nest. There is no process-wide thread setting: two models with
/// different allowances run side by side, sharing the pool's sleeping workers.
public enum Parallel {
    static let slot = ThreadLocalWord()

    /// The current thread's allowance (1 unless a graph run set it).
    public static var threads: Int {
        slot.integer.clamped(to: 1...256)
    }

    /// Runs `body` with `threads` set for the calling thread. While a multi-threaded body runs,
    /// idle workers poll for the next parallel loop instead of sleeping (see `WorkerPool`).
    public static func withThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
        if threads <= 1 { return try slot.with(UnsafeRawPointer(bitPattern: 1), body) }
        WorkerPool.shared.activeRuns.add(1, ordering: .releasing)
        defer { WorkerPool.shared.activeRuns.subtract(1, ordering: .releasing) }
        return try slot.with(UnsafeRawPointer(bitPattern: threads), body)
    }

    /// Calls `body(i)` for i in 0..<count on the calling thread and up to `threads - 1` pool
    /// workers; items are claimed one at a time (dynamic scheduling), so a slow core does not hold
    /// the others back: the calling thread's from the front, the workers' from the back (see
    /// `WorkerPool.Job.participate`). Items must be independent. Returns when all are done;
    /// workers then sleep.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let threads = min(self.threads, count)
        // (`Job` packs its item bounds in 32 bits each.)
        if threads <= 1 || count > Int(UInt32.max) {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The items are independent by contract; the closure writes disjoint memory.
            nonisolated(unsafe) let work = body
            let job = WorkerPool.Job(count: count, body: work)
            WorkerPool.shared.submit(job, helpers: threads - 1)
            job.participate(fromBack: false)
            job.waitUntilDone()
            WorkerPool.shared.retire(job)
            // A worker may still hold the job (finding nothing left to claim); it must not hold
            // the closure past this call.
            job.body = { _ in }
        }
    }

    /// Elementwise work below this many elements stays on one thread (a parallel loop's
    /// hand-off costs more than it saves there).
    public static let elementwiseThreshold = 1 << 15

    /// Calls `body` on contiguous parts of 0..<total: one part unless `split` (large work), then
    /// `ranges(total)` across the threads.
    public static func forEachPart(of total: Int, split: Bool, _ body: (Range<Int>) -> Void) {
        let parts = split ? ranges(total) : [0..<total]
        forEach(parts.count) { body(parts[$0]) }
    }

    /// Calls `body` on contiguous parts of 0..<total: one part unless `split`, then one even part
    /// per thread (`evenParts`), for work that should stay on the core whose data it reads.
    public static func forEachEvenPart(of total: Int, split: Bool, _ body: (Range<Int>) -> Void) {
        let parts = split ? evenParts(of: total, count: threads) : [0..<total]
        forEach(parts.count) { body(parts[$0]) }
    }

    /// Splits 0..<total into contiguous ranges: one when single-threaded, otherwise about four
    /// per thread so dynamic scheduling can even out the load.
    public static func ranges(_ total: Int) -> [Range<Int>] {
        let threads = self.threads
        return evenParts(of: total, count: threads == 1 ? 1 : threads * 4)
    }

    /// 0..<total cut into `count` even contiguous ranges (fewer if total is smaller; one if 0).
    public static func evenParts(of total: Int, count: Int) -> [Range<Int>] {
        let parts = max(1, min(count, total))
        return (0..<parts).map { evenPart($0, of: total, parts: parts) }
    }

    /// Part `index` of 0..<total cut into `parts` contiguous pieces whose sizes differ by at most
    /// one, the larger pieces first. Items are claimed in order, so the last to start are the
    /// shortest and the threads finish together (10 tiles in 8 parts: 2 2 1 1 1 1 1 1, where
    /// cutting at total * index / parts gives 1 1 1 2 1 1 1 2 and a thread idles for a tile).
    @inline(__always)
    public static func evenPart(_ index: Int, of total: Int, parts: Int) -> Range<Int> {
        let (size, larger) = total.quotientAndRemainder(dividingBy: parts)
        let start = index * size + Swift.min(index, larger)
        return start..<(start + size + (index < larger ? 1 : 0))
    }
}

/// Worker threads shared by all models; created on demand up to the largest allowance asked
/// for. A worker joins the oldest job with unclaimed items and claims items until none are left.
/// Between jobs it polls (yielding the core) while some multi-threaded run is in progress and
/// for at most `pollLimit`: a graph's parallel loops come a few microseconds apart, and waking a
/// sleeping thread for each costs tens. Otherwise, and as soon as the runs end, it sleeps on a
/// condition variable, so no worker spins once a call has returned.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    final class Job: @unchecked Sendable {
        let count: Int
        /// Read only after claiming an item, so replacing it once all items are done is safe.
        var body: (Int) -> Void
        /// The unclaimed items `front ..< back`, packed as front << 32 | back.
        let unclaimed: Atomic<UInt64>
        let done = Atomic<Int>(0)

        init(count: Int, body: @escaping (Int) -> Void) {
            self.count = count
            self.body = body
            unclaimed = Atomic(UInt64(count))
        }

        var hasUnclaimedItems: Bool {
            let packed = unclaimed.load(ordering: .relaxed)
            return packed >> 32 < packed & 0xFFFF_FFFF
        }

        /// Claims and runs items until none are left: the calling thread from the front, the
        /// workers from the back. Consecutive loops cut their work in the same order (pixel
        /// ranges, tiles), so each thread mostly reads what it wrote in the loop before, from its
        /// own core's caches. Claimed from one end by all, each loop's parts went to either
        /// thread by chance: MobileNetV2's projections, which read six times what they write,
        /// then ran 1.0-1.1x faster on two threads than on one (on a host whose two cores did
        /// not always share an L3), and whole networks 4-14 % slower than now.
        func participate(fromBack: Bool) {
            while true {
                var packed = unclaimed.load(ordering: .relaxed), item = 0
                while true {
                    let front = packed >> 32, back = packed & 0xFFFF_FFFF
                    if front >= back { return }
                    let claimed = fromBack ? front << 32 | (back - 1) : (front + 1) << 32 | back
                    let (exchanged, original) = unclaimed.compareExchange(expected: packed, desired: claimed, ordering: .relaxed)
                    if exchanged {
                        item = Int(fromBack ? back - 1 : front)
                        break
                    }
                    packed = original
                }
                body(item)
                done.add(1, ordering: .releasing)
            }
        }

        /// Items claimed by workers may still be running: wait for them.
        func waitUntilDone() {
            WorkerPool.spin { done.load(ordering: .acquiring) < count }
        }
    }

    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var jobs: [Job] = []
    private var workers = 0
    /// Multi-threaded sections in progress (`Parallel.withThreads`).
    let activeRuns = Atomic<Int>(0)
    /// Jobs submitted so far: a polling worker watches it for the next one.
    private let submitted = Atomic<Int>(0)
    /// The longest a worker polls before it sleeps (a long single-threaded stretch of a run).
    static let pollLimit: Duration = .milliseconds(2)

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
    }

    func submit(_ job: Job, helpers: Int) {
        placeCaller()
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        submitted.add(1, ordering: .releasing)
        while workers < helpers { startWorker() }
        pthread_mutex_unlock(&mutex)
        for _ in 0..<helpers { pthread_cond_signal(&wake) }
    }

    /// Removes a finished job (the caller's, once every item is done).
    func retire(_ job: Job) {
        pthread_mutex_lock(&mutex)
        jobs.removeAll { $0 === job }
        pthread_mutex_unlock(&mutex)
    }

    /// CPUs below 64 that a worker is pinned to, bit c for CPU c. Left to the scheduler, a
    /// worker woken by the caller was at times placed on the caller's own CPU, where the two took
    /// turns (polling, neither left) while the other CPU idled: after pauses, SqueezeNet's
    /// two-thread runs took 7-8 ms instead of 4 (one thread: 6.4). Each worker is pinned to a CPU
    /// of its own, as ONNX Runtime pins its pool, and a caller found on one moves off it.
    /// (`MANAKO_PIN_WORKERS=0` in the environment leaves every worker to the scheduler.)
    private let pinnedCPUs = Atomic<UInt64>(0)
    private static let pinsWorkers = getenv("MANAKO_PIN_WORKERS").map { String(cString: $0) != "0" } ?? true

    /// Moves the calling thread off a worker's CPU, to a free CPU the process may use (its
    /// allowed CPUs stay as they were).
    private func placeCaller() {
        let taken = pinnedCPUs.load(ordering: .relaxed)
        guard taken != 0 else { return }
        let cpu = mk_current_cpu()
        guard cpu >= 0 && cpu < 64 && taken >> UInt64(cpu) & 1 != 0 else { return }
        let free = mk_free_cpu(cpu, taken)
        if free >= 0 { _ = mk_move_to_cpu(free) }
    }

    /// Starts a worker pinned to a CPU that is neither the caller's nor another worker's, if the
    /// process may use one (else it runs wherever the scheduler puts it). Under the mutex.
    private func startWorker() {
        workers += 1
        let cpu = Self.pinsWorkers ? mk_free_cpu(mk_current_cpu(), pinnedCPUs.load(ordering: .relaxed)) : -1
        if cpu >= 0 { pinnedCPUs.bitwiseOr(1 << UInt64(cpu), ordering: .relaxed) }
        final class Start {
            let pool: WorkerPool, cpu: Int32
            init(_ pool: WorkerPool, _ cpu: Int32) { (self.pool, self.cpu) = (pool, cpu) }
        }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Start(self, cpu)).toOpaque()
        pthread_create(&thread, nil, { context in
            let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
            if start.cpu >= 0 && mk_pin_to_cpu(start.cpu) == 0 {
                start.pool.pinnedCPUs.bitwiseAnd(~(1 << UInt64(start.cpu)), ordering: .relaxed)
            }
            start.pool.workerLoop()
            return nil
        }, context)
        pthread_detach(thread)
    }

    /// Waits while `condition` holds: mostly on the CPU's spin-wait hint, which notices the change
    /// within a fraction of a microsecond, and yielding the core every 64 checks (about 2 us) so a
    /// descheduled thread we wait for (more runnable threads than cores) still gets to run.
    static func spin(while condition: () -> Bool) {
        var checks = 0
        while condition() {
            checks &+= 1
            if checks & 63 == 0 { sched_yield() } else { mk_cpu_relax() }
        }
    }

    private func workerLoop() {
        while true {
            pthread_mutex_lock(&mutex)
            var job = jobs.first { $0.hasUnclaimedItems }
            var polled = false
            while job == nil {
                if !polled && activeRuns.load(ordering: .acquiring) > 0 {
                    // Poll outside the lock until a job is submitted, the runs end or time is up;
                    // then look again under the lock (a submit appends under it).
                    polled = true
                    let generation = submitted.load(ordering: .acquiring)
                    pthread_mutex_unlock(&mutex)
                    let clock = ContinuousClock(), deadline = clock.now + Self.pollLimit
                    WorkerPool.spin {
                        submitted.load(ordering: .acquiring) == generation && activeRuns.load(ordering: .acquiring) > 0
                            && clock.now < deadline
                    }
                    pthread_mutex_lock(&mutex)
                } else {
                    pthread_cond_wait(&wake, &mutex)
                    polled = false
                }
                job = jobs.first { $0.hasUnclaimedItems }
            }
            pthread_mutex_unlock(&mutex)
            job!.participate(fromBack: true)
        }
    }
}

extension Int {
    func clamped(to range: ClosedRange<Int>) -> Int { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
