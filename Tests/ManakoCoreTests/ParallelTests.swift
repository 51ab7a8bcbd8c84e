#if canImport(Glibc)
import Glibc
#endif
import CManakoSIMD
import ManakoCore
import Testing

/// Even parts, larger first: the hand-worked 10-in-8 case, and for awkward totals and part
/// counts the parts tile 0..<total in order, differ in size by at most one and never grow.
@Test func evenPartsAreContiguousBalancedAndLargestFirst() {
    #expect((0..<8).map { Parallel.evenPart($0, of: 10, parts: 8).count } == [2, 2, 1, 1, 1, 1, 1, 1])
    #expect(Parallel.evenPart(3, of: 10, parts: 8) == 5..<6)
    for total in [0, 1, 7, 127, 1001] {
        for parts in [1, 2, 3, 8, 16] {
            let pieces = (0..<parts).map { Parallel.evenPart($0, of: total, parts: parts) }
            #expect(pieces.first?.lowerBound == 0 && pieces.last?.upperBound == total, "\(total) in \(parts)")
            #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "\(total) in \(parts): gaps")
            let sizes = pieces.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1, "\(total) in \(parts): \(sizes)")
            #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 >= $1 }, "\(total) in \(parts): \(sizes)")
        }
    }
}

/// Thousands of parallel loops back to back on two threads, from one item (the caller may claim
/// it before the worker arrives) to 127: every item runs exactly once per loop, and the loop
/// returns only when all have run.
@Test func parallelLoopsRunEveryItemOnceOnTwoThreads() {
    let counts = [1, 2, 3, 7, 127]
    Parallel.withThreads(2) {
        for round in 0..<2000 {
            let count = counts[round % counts.count]
            // Each item writes only its own slot.
            let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
            defer { runs.deallocate() }
            runs.initialize(repeating: 0)
            Parallel.forEach(count) { runs[$0] += 1 }
            let all = runs.allSatisfy { $0 == 1 }
            #expect(all, "round \(round): an item ran other than once")
            if !all { break }
        }
    }
}

/// The calling thread claims items from the front and the workers from the back: on two and
/// three threads, the items the caller ran are always a prefix 0..<k of the loop (whatever k the
/// timing gives), every item runs once, and the `evenParts` helper tiles its total.
@Test func theCallerRunsAPrefixOfEveryLoop() {
    let caller = pthread_self()
    for threads in [2, 3] {
        Parallel.withThreads(threads) {
            for round in 0..<500 {
                let count = [2, 5, 16, 127][round % 4]
                let byCaller = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
                defer { byCaller.deallocate() }
                byCaller.initialize(repeating: -1)
                Parallel.forEach(count) { byCaller[$0] = pthread_equal(pthread_self(), caller) != 0 ? 1 : 0 }
                let flags = Array(byCaller)
                let prefix = flags.prefix { $0 == 1 }.count
                #expect(!flags.contains(-1), "\(threads) threads, round \(round): an item did not run")
                #expect(flags.dropFirst(prefix).allSatisfy { $0 == 0 }, "\(threads) threads, round \(round): \(flags)")
            }
        }
    }
    #expect(Parallel.evenParts(of: 10, count: 4) == [0..<3, 3..<6, 6..<8, 8..<10])
    #expect(Parallel.evenParts(of: 2, count: 4) == [0..<1, 1..<2])
    #expect(Parallel.evenParts(of: 0, count: 4) == [0..<0])
}

/// `forEachEvenPart`: one part of everything unless split, then one even part per thread (three
/// threads: 10 as 4 3 3), each part run once.
@Test func forEachEvenPartGivesOnePartPerThreadWhenSplit() {
    func parts(threads: Int, split: Bool) -> [Range<Int>] {
        // Each part records its end at its start: distinct slots, no lock.
        let ends = UnsafeMutableBufferPointer<Int>.allocate(capacity: 10)
        defer { ends.deallocate() }
        ends.initialize(repeating: -1)
        Parallel.withThreads(threads) {
            Parallel.forEachEvenPart(of: 10, split: split) { part in ends[part.lowerBound] = part.upperBound }
        }
        return ends.indices.filter { ends[$0] >= 0 }.map { $0..<ends[$0] }
    }
    #expect(parts(threads: 3, split: true) == [0..<4, 4..<7, 7..<10])
    #expect(parts(threads: 3, split: false) == [0..<10])
    #expect(parts(threads: 1, split: true) == [0..<10])
}

/// The worker pool's placement helpers: the free CPUs are the allowed ones below 64, in order,
/// each skipping the CPU to avoid and the taken ones; a move lands on its target and leaves the
/// thread allowed every CPU it was allowed before.
@Test func placementHelpersFindFreeCPUsAndMoveWithoutPinning() {
    #if os(Linux)
    func allowedCPUs() -> [Int32] {
        var cpus: [Int32] = [], taken: UInt64 = 0
        while true {
            let cpu = mk_free_cpu(-1, taken)
            if cpu < 0 { return cpus }
            cpus.append(cpu)
            taken |= 1 << UInt64(cpu)
        }
    }
    let allowed = allowedCPUs(), current = mk_current_cpu()
    #expect(!allowed.isEmpty && allowed == allowed.sorted())
    #expect(current >= 0)
    #expect(current >= 64 || allowed.contains(current))
    #expect(mk_free_cpu(allowed[0], 0) == (allowed.count > 1 ? allowed[1] : -1))
    #expect(mk_free_cpu(-1, 1 << UInt64(allowed[0])) == (allowed.count > 1 ? allowed[1] : -1))
    guard allowed.count > 1 else { return }
    let target = allowed.last!
    #expect(mk_move_to_cpu(target) == 1)
    #expect(allowedCPUs() == allowed, "the move must not pin the thread")
    #expect(mk_pin_to_cpu(-1) == 0 && mk_move_to_cpu(1 << 20) == 0)
    #endif
}
