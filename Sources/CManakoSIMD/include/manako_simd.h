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

/* min(max(v, lo), hi) lane by lane: vmaxps + vminps, never a call (a NaN lane becomes lo). */
#if defined(__AVX__)
#include <immintrin.h>
static inline __attribute__((always_inline)) mk_float8 mk_clamp(mk_float8 v, mk_float8 lo, mk_float8 hi) {
    return (mk_float8)_mm256_min_ps(_mm256_max_ps((__m256)v, (__m256)lo), (__m256)hi);
}
#else
static inline __attribute__((always_inline)) mk_float8 mk_clamp(mk_float8 v, mk_float8 lo, mk_float8 hi) {
    mk_float8 r;
    for (int i = 0; i < 8; i++) {
        float x = v[i] > lo[i] ? v[i] : lo[i];
        r[i] = x < hi[i] ? x : hi[i];
    }
    return r;
}
#endif

/* a > b ? a : b lane by lane (vmaxps: a NaN in a is skipped, as a compare-and-select would). */
#if defined(__AVX__)
static inline __attribute__((always_inline)) mk_float8 mk_max(mk_float8 a, mk_float8 b) {
    return (mk_float8)_mm256_max_ps((__m256)a, (__m256)b);
}
#else
static inline __attribute__((always_inline)) mk_float8 mk_max(mk_float8 a, mk_float8 b) {
    mk_float8 r;
    for (int i = 0; i < 8; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
    return r;
}
#endif

/* a / b lane by lane to about 1 ulp: a reciprocal estimate refined by one Newton step, where a
 * vdivps would hold each vector for its full latency. For b in [1, 2^126] (a denominator like
 * 1 + e^-x); past 2^126 the estimate is 0 and so is the quotient. */
#if defined(__AVX__)
static inline __attribute__((always_inline)) mk_float8 mk_divide(mk_float8 a, mk_float8 b) {
    mk_float8 r = (mk_float8)_mm256_rcp_ps((__m256)b);
    r = r * (2.0f - b * r);
    return a * r;
}
#else
static inline __attribute__((always_inline)) mk_float8 mk_divide(mk_float8 a, mk_float8 b) {
    return a / b;
}
#endif

#endif
