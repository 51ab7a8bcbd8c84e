#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shared body of the float unary operators: apply `f` to every element.
public enum ElementwiseUnary {
    @inline(__always)
    public static func apply(_ inputs: [Tensor?], _ f: (Float) -> Float) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        return [Tensor(shape: x.shape, floats: map(try x.floats(), f))]
    }

    /// `values.map(f)` as a pointer loop the compiler vectorises once `f` is inlined.
    @inline(__always)
    public static func map(_ values: [Float], _ f: (Float) -> Float) -> [Float] {
        BufferPool.floats(values.count) { out in
            values.withUnsafeBufferPointer { x in
                for i in 0..<x.count { (out.baseAddress! + i).initialize(to: f(x[i])) }
            }
        }
    }

    /// Applies a whole-vector function (SIMD8 lanes, scalar twin for the tail) to every element,
    /// reading X in place into a new buffer; large tensors split across threads in chunks of
    /// whole vectors (each element's result does not depend on the split).
    @inline(__always)
    public static func apply(_ inputs: [Tensor?], vector: (SIMD8<Float>) -> SIMD8<Float>) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let values = try x.floats()
        let output = BufferPool.floats(values.count) { out in
            values.withUnsafeBufferPointer { source in
                Parallel.forEachPart(of: (source.count + 7) / 8, split: source.count >= parallelThreshold) { vectors in
                    let start = vectors.lowerBound * 8, end = min(source.count, vectors.upperBound * 8)
                    VectorMath.map(source.baseAddress! + start, count: end - start, into: out.baseAddress! + start, vector)
                }
            }
        }
        return [Tensor(shape: x.shape, floats: output)]
    }

    /// Elementwise work below this many elements stays on one thread (a parallel loop's
    /// hand-off costs more than it saves there).
    public static let parallelThreshold = 1 << 15
}

/// The C library's functions used by unary operators (the core avoids Foundation).
public enum CMath {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func erf(_ x: Float) -> Float { erff(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func sqrt(_ x: Float) -> Float { sqrtf(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable public static func floor(_ x: Float) -> Float { floorf(x) }
}
