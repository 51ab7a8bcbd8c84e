#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import CManakoSIMD

/// A function on eight lanes, as a type (`ElementwiseUnary.apply(_:_:)`).
public protocol LaneFunction {
    static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float>
}

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

    /// Applies `chunk(source, count, target)` to every element, reading X in place into a new
    /// buffer; large tensors split across threads in chunks of whole vectors (each element's
    /// result does not depend on the split). The unary operators use `apply(_:_:)`; Clip, whose
    /// bounds are values rather than a type, passes its own loop.
    @inline(__always)
    public static func apply(_ inputs: [Tensor?],
                             chunks chunk: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let values = try x.floats()
        let output = BufferPool.floats(values.count) { out in
            values.withUnsafeBufferPointer { source in
                Parallel.forEachPart(of: (source.count + 7) / 8, split: source.count >= Parallel.elementwiseThreshold) { vectors in
                    let start = vectors.lowerBound * 8, end = min(source.count, vectors.upperBound * 8)
                    chunk(source.baseAddress! + start, end - start, out.baseAddress! + start)
                }
            }
        }
        return [Tensor(shape: x.shape, floats: output)]
    }

    /// `apply(_:chunks:)` with `F.lanes` over every vector: the generic loop is specialised for
    /// each function type, so the call is direct and inlined. (Passed as a closure, the function
    /// was inlined or not at the optimiser's whim, and when not, called once per vector: a call
    /// boundary that left an exp's twenty dependent operations without overlap. The loop is
    /// written out here rather than through `VectorMath.map` for the same reason.)
    @inline(__always)
    public static func apply<F: LaneFunction>(_ inputs: [Tensor?], _ function: F.Type) throws -> [Tensor] {
        try apply(inputs, chunks: { x, count, y in
            var i = 0
            while i + 8 <= count {
                UnsafeMutableRawPointer(y + i).storeBytes(of: F.lanes(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)),
                                                       as: SIMD8<Float>.self)
                i += 8
            }
            if i < count { mk_store_first(y + i, F.lanes(mk_load_first(x + i, count - i)), count - i) }
        })
    }
}

/// The C library's functions used by unary operators (the core avoids Foundation).
public enum CMath {
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func exp(_ x: Double) -> Double {
        #if canImport(Glibc)
        Glibc.exp(x)
        #else
        Darwin.exp(x)
        #endif
    }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func erf(_ x: Float) -> Float { erff(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func sqrt(_ x: Float) -> Float { sqrtf(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inlinable public static func floor(_ x: Float) -> Float { floorf(x) }
}
