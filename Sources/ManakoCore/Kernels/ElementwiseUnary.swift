#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shared body of the float unary operators: apply `f` to every element.
public enum ElementwiseUnary {
    public static func apply(_ inputs: [Tensor?], _ f: (Float) -> Float) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        return [Tensor(shape: x.shape, floats: try x.floats().map(f))]
    }
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
