/* Eight-lane multiply-add for the Swift kernels.
 * Swift's SIMD8<Float>.addProduct becomes calls of fmaf unless FMA is enabled, and a plain
 * `acc += a * b` never becomes an FMA. In C, `a * b + c` in one expression is contracted by
 * clang (-ffp-contract=on) into one vfmadd when the target has FMA (-mfma), and compiles to a
 * multiply and an add otherwise: the right instruction either way, never a library call.
 * Swift imports the ext_vector_type as SIMD8<Float>. */
#ifndef MANAKO_SIMD_H
#define MANAKO_SIMD_H

typedef float mk_float8 __attribute__((ext_vector_type(8)));

static inline __attribute__((always_inline)) mk_float8 mk_multiply_add(mk_float8 a, mk_float8 b, mk_float8 c) {
    return a * b + c;
}

#endif
