import ManakoCore
import Testing

/// Small weights carved from shared huge-page chunks: each buffer 64-byte aligned, none
/// overlapping another (every one keeps its own values after all are written), a released
/// buffer leaving its chunk-mates intact, and buffers of 2 MB or more (and unshared ones)
/// getting memory of their own.
@Test func sharedChunkBuffersAreAlignedAndSeparate() {
    let counts = [1, 7, 127, 1001, 16, 300_000, 5, 262_143, 64]
    var buffers = counts.enumerated().map { index, count in
        AlignedFloats(count: count, sharingHugePages: true) { $0.initialize(repeating: Float(index + 1)) }
    }
    for (index, buffer) in buffers.enumerated() {
        #expect(buffer.sharesChunk, "buffer \(index) of \(buffer.count) floats")
        buffer.withUnsafeBufferPointer { values in
            #expect(Int(bitPattern: values.baseAddress!) % 64 == 0, "buffer \(index) is 64-byte aligned")
            #expect(values.allSatisfy { $0 == Float(index + 1) }, "buffer \(index) was overwritten by another")
        }
    }
    buffers.remove(at: 3)
    let replacement = AlignedFloats(count: 1001, sharingHugePages: true) { $0.initialize(repeating: -1) }
    for (index, buffer) in buffers.enumerated() {
        let expected = Float(index < 3 ? index + 1 : index + 2)
        buffer.withUnsafeBufferPointer { #expect($0.allSatisfy { $0 == expected }, "buffer \(index) after a release") }
    }
    #expect(replacement.withUnsafeBufferPointer { $0.allSatisfy { $0 == -1 } })
    let large = AlignedFloats(count: 1 << 19, sharingHugePages: true) { $0.initialize(repeating: 0) }
    let unshared = AlignedFloats(count: 16) { $0.initialize(repeating: 0) }
    #expect(!large.sharesChunk && !unshared.sharesChunk, "2 MB and unshared buffers have memory of their own")
}
