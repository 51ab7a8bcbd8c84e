import ManakoCore
import Testing

/// The per-thread scratch arena: the two regions never overlap, nested use on one thread gets
/// memory of its own, requests past the retained size still work, and a later call on the same
/// thread reuses the same memory (no fresh pages per call).
@Test func scratchRegionsAreSeparateAndReused() {
    let first = Scratch.withFloats(1001, 127) { a, b -> UnsafeMutablePointer<Float> in
        for i in 0..<1001 { a[i] = 1 }
        for i in 0..<127 { b[i] = 2 }
        #expect(UnsafeRawPointer(b) >= UnsafeRawPointer(a + 1001), "the second region starts past the first")
        #expect(Int(bitPattern: a) % 64 == 0 && Int(bitPattern: b) % 64 == 0, "64-byte aligned")
        #expect((0..<1001).allSatisfy { a[$0] == 1 }, "the first region was overwritten")
        Scratch.withFloats(7) { nested in
            #expect(nested != a && nested != b, "nested use got the outer call's memory")
            for i in 0..<7 { nested[i] = 3 }
        }
        #expect((0..<1001).allSatisfy { a[$0] == 1 } && (0..<127).allSatisfy { b[$0] == 2 }, "nested use overwrote the outer regions")
        return a
    }
    let again = Scratch.withFloats(500) { $0 }
    #expect(again == first, "a smaller request on the same thread did not reuse the retained buffer")
    // Past the retained size: memory of its own, fully writable.
    let big = 3 << 20
    let sum = Scratch.withFloats(big) { p -> Float in
        for i in stride(from: 0, to: big, by: 4096) { p[i] = 1 }
        p[big - 1] = 1
        return (0..<big).lazy.filter { $0 % 4096 == 0 || $0 == big - 1 }.map { p[$0] }.reduce(0, +)
    }
    #expect(sum == Float((big + 4095) / 4096 + 1))
}

/// Packed weights' storage: 64-byte aligned whatever the size (a [Float] is not), holding what
/// was written; an empty one is valid.
@Test func alignedFloatsAreAlignedAndHoldTheirValues() {
    for count in [0, 1, 7, 127, 1001, 300_000] {
        let values = (0..<count).map { Float($0) * 0.5 - 3 }
        let storage = AlignedFloats(count: count) { target in
            for i in 0..<count { target[i] = values[i] }
        }
        #expect(storage.count == count)
        storage.withUnsafeBufferPointer { buffer in
            #expect(Int(bitPattern: buffer.baseAddress) % 64 == 0, "\(count) floats not 64-byte aligned")
            #expect(Array(buffer) == values, "\(count) floats changed")
        }
    }
}
