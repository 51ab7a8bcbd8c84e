/* Eight-lane multiply-add for the Swift kernels.
 * Swift's SIMD8<Float>.addProduct becomes calls of fmaf unless FMA is enabled, and a plain
 * `acc += a * b` never becomes an FMA. In C, `a * b + c` in one expression is contracted by
 * clang (-ffp-contract=on) into one vfmadd when the target has FMA (-mfma), and compiles to a
 * multiply and an add otherwise: the right instruction either way, never a library call.
 * Swift imports the ext_vector_type as SIMD8<Float>. */
#ifndef MANAKO_SIMD_H
#define MANAKO_SIMD_H

/* The worker pool's placement helpers, imported into Swift through this header. */
#include "manako_cpu.h"

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

/* Asks for the cache line holding p ahead of its use (prefetcht0); never faults. */
static inline __attribute__((always_inline)) void mk_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
/* The same into L2 only (prefetcht1): for weights a kernel needs a tile from now. Brought into L1
 * they evicted the lines the current tile was using (ResNet-50 5-8 % slower than this). */
static inline __attribute__((always_inline)) void mk_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

/* sqrt lane by lane, correctly rounded (vsqrtps, or sqrtps twice): never the C library's sqrtf,
 * which Swift's SIMD squareRoot() calls lane by lane, with its errno handling for negatives. */
static inline __attribute__((always_inline)) mk_float8 mk_sqrt(mk_float8 v) {
    return __builtin_elementwise_sqrt(v);
}

/* flags[i] ? yes[i] : no[i] for eight bool bytes, without branches: the bytes widened to lanes,
 * compared with 0 into an all-ones mask, the two vectors blended through it. */
typedef int mk_int8 __attribute__((ext_vector_type(8)));
typedef unsigned char mk_byte8 __attribute__((ext_vector_type(8), aligned(1)));
static inline __attribute__((always_inline)) mk_float8 mk_select_bytes(const void *flags, mk_float8 yes, mk_float8 no) {
    mk_int8 mask = __builtin_convertvector(*(const mk_byte8 *)flags, mk_int8) != 0;
    return (mk_float8)(((mk_int8)yes & mask) | ((mk_int8)no & ~mask));
}

/* 2^(j/8) in each lane, j the lane's low three bits: the fraction part of an exponential's
 * range reduction (`VectorMath.reduce`), one vpermps on an eight-entry table. */
static inline __attribute__((always_inline)) mk_float8 mk_exp2_eighths(mk_int8 bits) {
    const mk_float8 table = {1.0f, 1.09050775f, 1.18920708f, 1.29683959f,
                             1.41421354f, 1.54221082f, 1.68179286f, 1.83400810f};
#if defined(__AVX2__)
    return (mk_float8)_mm256_permutevar8x32_ps((__m256)table, (__m256i)bits);
#else
    mk_float8 r;
    for (int i = 0; i < 8; i++) r[i] = table[bits[i] & 7];
    return r;
#endif
}

/* The same table as integer offsets: the bits of 2^(j/8) less 127 << 23 and j << 20. For lanes
 * whose low twelve bits hold 8 (n + 127) + j, offsets + (bits << 20) are the bits of
 * 2^(j/8) * 2^n (for -126 <= n <= 127): one vpermd and one vpaddd, where the float table and a
 * separate 2^n take a mask and a multiply more. */
static inline __attribute__((always_inline)) mk_int8 mk_exp2_eighths_offsets(mk_int8 bits) {
    const mk_int8 table = {0, -289342, -509968, -655657, -719629, -694486, -572163, -343865};
#if defined(__AVX2__)
    return (mk_int8)_mm256_permutevar8x32_epi32((__m256i)table, (__m256i)bits);
#else
    mk_int8 r;
    for (int i = 0; i < 8; i++) r[i] = table[bits[i] & 7];
    return r;
#endif
}

/* The first `count` (0...8) floats at p as a vector, the other lanes zero, and the first `count`
 * lanes of v stored at p: a tile's partial last columns without a scalar loop, and without
 * touching memory past them (a masked vmaskmovps load does not fault on the lanes it skips). */
#if defined(__AVX2__)
static inline __attribute__((always_inline)) __m256i mk_first_lanes(long count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __attribute__((always_inline)) mk_float8 mk_load_first(const float *p, long count) {
    return (mk_float8)_mm256_maskload_ps(p, mk_first_lanes(count));
}
/* v with the lanes from `count` on replaced by `fill` (Swift's SIMD compare-and-replace on lane
 * indices compiles to a loop through the stack). */
static inline __attribute__((always_inline)) mk_float8 mk_keep_first(mk_float8 v, long count, float fill) {
    return (mk_float8)_mm256_blendv_ps(_mm256_set1_ps(fill), (__m256)v, _mm256_castsi256_ps(mk_first_lanes(count)));
}
/* Stored in pieces of 4, 2 and 1: a vmaskmovps store takes many cycles on AMD's cores. */
static inline __attribute__((always_inline)) void mk_store_first(float *p, mk_float8 v, long count) {
    __m256 x = (__m256)v;
    if (count >= 8) { _mm256_storeu_ps(p, x); return; }
    __m128 part = _mm256_castps256_ps128(x);
    if (count & 4) { _mm_storeu_ps(p, part); p += 4; part = _mm256_extractf128_ps(x, 1); }
    if (count & 2) { _mm_storel_pi((__m64 *)p, part); p += 2; part = _mm_movehl_ps(part, part); }
    if (count & 1) { _mm_store_ss(p, part); }
}
#else
static inline __attribute__((always_inline)) mk_float8 mk_load_first(const float *p, long count) {
    mk_float8 v = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long i = 0; i < count; i++) v[i] = p[i];
    return v;
}
static inline __attribute__((always_inline)) void mk_store_first(float *p, mk_float8 v, long count) {
    for (long i = 0; i < count; i++) p[i] = v[i];
}
static inline __attribute__((always_inline)) mk_float8 mk_keep_first(mk_float8 v, long count, float fill) {
    for (long i = count; i < 8; i++) v[i] = fill;
    return v;
}
#endif

/* The largest of eight lanes (no NaN among them: callers check first), in three vmaxps. */
#if defined(__AVX__)
static inline __attribute__((always_inline)) float mk_horizontal_max(mk_float8 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128((__m256)v), _mm256_extractf128_ps((__m256)v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
#else
static inline __attribute__((always_inline)) float mk_horizontal_max(mk_float8 v) {
    float best = v[0];
    for (int i = 1; i < 8; i++) best = v[i] > best ? v[i] : best;
    return best;
}
#endif

#if defined(__AVX__)
/* Eight rows of eight floats transposed in registers, in place: r[j] lane i becomes r[i] lane
 * j. Three rounds of in-lane shuffles, then the 128-bit halves exchanged. */
static inline __attribute__((always_inline)) void mk_transpose8_registers(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#endif

/* An 8x8 float transpose: dst[j * dstStride + i] = src[i * srcStride + j] for i, j < 8
 * (strides in floats). With AVX: eight loads, the register transpose, eight stores. */
#if defined(__AVX__)
static inline __attribute__((always_inline)) void mk_transpose8x8(const float *src, long srcStride, float *dst, long dstStride) {
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * srcStride);
    mk_transpose8_registers(r);
    for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + j * dstStride, r[j]);
}
#else
static inline __attribute__((always_inline)) void mk_transpose8x8(const float *src, long srcStride, float *dst, long dstStride) {
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) dst[j * dstStride + i] = src[i * srcStride + j];
}
#endif

/* Eight 6-float rows into lane-minor order: dst[j * 8 + i] = rows[i][j] for i < 8, j < 6 (one
 * row of the 6x6 input patches of eight Winograd tiles). Masked loads read only the six floats
 * of each row; the register transpose; six stores. */
#if defined(__AVX2__)
static inline __attribute__((always_inline)) void mk_gather_transpose6x8(const float *const *rows, float *dst) {
    __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_maskload_ps(rows[i], six);
    mk_transpose8_registers(r);
    for (int j = 0; j < 6; j++) _mm256_storeu_ps(dst + j * 8, r[j]);
}
#else
static inline __attribute__((always_inline)) void mk_gather_transpose6x8(const float *const *rows, float *dst) {
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 6; j++) dst[j * 8 + i] = rows[i][j];
}
#endif

/* The way back for four columns: rows[i][j] = src[j * 8 + i] for i < 8, j < 4 (one row of the 4x4
 * output tiles of eight Winograd tiles, from lane-minor vectors to each tile's place). */
#if defined(__AVX__)
static inline __attribute__((always_inline)) void mk_scatter_transpose4x8(const float *src, float *const *rows) {
    __m256 c0 = _mm256_loadu_ps(src), c1 = _mm256_loadu_ps(src + 8), c2 = _mm256_loadu_ps(src + 16), c3 = _mm256_loadu_ps(src + 24);
    __m256 t0 = _mm256_unpacklo_ps(c0, c1), t1 = _mm256_unpackhi_ps(c0, c1);
    __m256 t2 = _mm256_unpacklo_ps(c2, c3), t3 = _mm256_unpackhi_ps(c2, c3);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    _mm_storeu_ps(rows[0], _mm256_castps256_ps128(u0));
    _mm_storeu_ps(rows[1], _mm256_castps256_ps128(u1));
    _mm_storeu_ps(rows[2], _mm256_castps256_ps128(u2));
    _mm_storeu_ps(rows[3], _mm256_castps256_ps128(u3));
    _mm_storeu_ps(rows[4], _mm256_extractf128_ps(u0, 1));
    _mm_storeu_ps(rows[5], _mm256_extractf128_ps(u1, 1));
    _mm_storeu_ps(rows[6], _mm256_extractf128_ps(u2, 1));
    _mm_storeu_ps(rows[7], _mm256_extractf128_ps(u3, 1));
}
#else
static inline __attribute__((always_inline)) void mk_scatter_transpose4x8(const float *src, float *const *rows) {
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) rows[i][j] = src[j * 8 + i];
}
#endif

/* Depthwise convolution microkernel, channel-blocked (NCHW8c): the window sums of `pixels`
 * (4 to 8) consecutive output pixels of one row, each input vector the windows touch loaded once
 * and multiplied into every pixel whose window holds it, so a 3x3 row of 8 pixels costs 10 loads
 * for 24 FMAs (stride 1) instead of 24. `x` is the first kernel row's input at the first pixel's
 * left column, rows `row_stride` floats apart (or, when `row_offsets` is not NULL, kernel row r
 * at x + row_offsets[r]: rows kept in a ring of scratch rows); `w` the first kernel row's KW
 * weight vectors, rows KW * 8 floats apart; `out` receives the sums (bias included; clamped to
 * [lo, hi] when `clamp`, a ReLU or ReLU6 fused into the store), 8 floats a pixel. KW, the stride
 * and the pixel count are constants in the specialisations below, so every loop unrolls and the
 * sums stay in registers. Layout: pixel p's eight channels at p * 8. */
typedef float mk_float8_unaligned __attribute__((ext_vector_type(8), aligned(4)));

static inline __attribute__((always_inline)) void mk_depthwise(const float *x, long row_stride, const long *row_offsets, int rows, const float *w,
                                                                int kw, int stride, int pixels, mk_float8 bias,
                                                                int clamp, mk_float8 lo, mk_float8 hi, float *out) {
    mk_float8 acc[8];
#pragma clang loop unroll(full)
    for (int j = 0; j < pixels; j++) acc[j] = bias;
    for (int r = 0; r < rows; r++) {
        const float *row = x + (row_offsets ? row_offsets[r] : r * row_stride);
        mk_float8 weight[5];
#pragma clang loop unroll(full)
        for (int kx = 0; kx < kw; kx++) weight[kx] = *(const mk_float8_unaligned *)(w + (r * kw + kx) * 8);
#pragma clang loop unroll(full)
        for (int c = 0; c < (pixels - 1) * stride + kw; c++) {
            mk_float8 v = *(const mk_float8_unaligned *)(row + c * 8);
#pragma clang loop unroll(full)
            for (int j = 0; j < pixels; j++) {
                int kx = c - j * stride;
                if (kx >= 0 && kx < kw) acc[j] = v * weight[kx] + acc[j];
            }
        }
    }
    if (clamp) {
#pragma clang loop unroll(full)
        for (int j = 0; j < pixels; j++) acc[j] = mk_clamp(acc[j], lo, hi);
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < pixels; j++) *(mk_float8_unaligned *)(out + j * 8) = acc[j];
}

/* The specialisations, one per window and stride, each a switch over 4 to 8 pixels (callers
 * cut a row into groups of eight and a last one or two of 4 to 7: a row of 14 as 8 + 6, not
 * 8 + 4 + 4 with two pixels computed twice; fewer than eight chains of sums leave the FMA units
 * waiting on latency). */
#define MK_DEPTHWISE(KW, STRIDE) \
    static inline __attribute__((always_inline)) void mk_depthwise_k##KW##s##STRIDE(const float *x, long row_stride, const long *row_offsets, int rows, const float *w, \
                                                    mk_float8 bias, int clamp, mk_float8 lo, mk_float8 hi, \
                                                    int pixels, float *out) { \
        switch (pixels) { \
        case 8: mk_depthwise(x, row_stride, row_offsets, rows, w, KW, STRIDE, 8, bias, clamp, lo, hi, out); break; \
        case 7: mk_depthwise(x, row_stride, row_offsets, rows, w, KW, STRIDE, 7, bias, clamp, lo, hi, out); break; \
        case 6: mk_depthwise(x, row_stride, row_offsets, rows, w, KW, STRIDE, 6, bias, clamp, lo, hi, out); break; \
        case 5: mk_depthwise(x, row_stride, row_offsets, rows, w, KW, STRIDE, 5, bias, clamp, lo, hi, out); break; \
        default: mk_depthwise(x, row_stride, row_offsets, rows, w, KW, STRIDE, 4, bias, clamp, lo, hi, out); break; \
        } \
    }
MK_DEPTHWISE(3, 1)
MK_DEPTHWISE(3, 2)
MK_DEPTHWISE(5, 1)
MK_DEPTHWISE(5, 2)
#undef MK_DEPTHWISE

/* Narrow GEMM tiles for 24 and 32 output channels: three pixels by three blocks of eight
 * channels, or three by four, so the layer reads its input once (two 16-column tiles read
 * it twice, and a last tile of 8 columns keeps few chains of sums), in 13 and 16 registers (a
 * fourth pixel by three blocks, 16 with the weights loaded first, made the register allocator
 * spill). Named sums, not an array: an array of sums
 * stayed in memory once inlined into Swift, a store per multiply-add.
 * Per step s of eight k (an input block's tap at x + steps[s]) and lane: a broadcast of each
 * pixel's value (at offsets[p]) times the blocks' eight weights, from two 16-column packed tiles
 * of 64 bytes per k (tile1's upper half unused for 24). Sums start from bias (if any) plus addend
 * (if any: a residual or the running sums), are clamped if `clamp`, and the first `count` pixels
 * are stored at out. Layout: NCHW8c; addend and out blocks are block_floats apart, pixels 8. */
#define MK_LOADU(p) (*(const mk_float8_unaligned *)(p))
#define MK_STOREU(p, v) (*(mk_float8_unaligned *)(p) = (v))
#define MK_START(c, j, p) c = (bias ? MK_LOADU(bias + (j) * 8) : (mk_float8)0.0f) + \
    (addend && (p) < count ? MK_LOADU(addend + (j) * block_floats + (p) * 8) : (mk_float8)0.0f)
#define MK_FINISH(c, j, p) if ((p) < count) MK_STOREU(out + (j) * block_floats + (p) * 8, clamp ? mk_clamp(c, lo, hi) : c)

static inline __attribute__((always_inline)) void mk_wide_tile3x3(const float *x, const long *steps, long step_count,
                                                                  const long *offsets, const float *tile0, const float *tile1,
                                                                  int count, const float *bias, const float *addend,
                                                                  long block_floats, int clamp, mk_float8 lo, mk_float8 hi,
                                                                  float *out) {
    mk_float8 c00, c01, c02, c10, c11, c12, c20, c21, c22;
    MK_START(c00, 0, 0); MK_START(c01, 1, 0); MK_START(c02, 2, 0);
    MK_START(c10, 0, 1); MK_START(c11, 1, 1); MK_START(c12, 2, 1);
    MK_START(c20, 0, 2); MK_START(c21, 1, 2); MK_START(c22, 2, 2);
    const long o0 = offsets[0], o1 = offsets[1], o2 = offsets[2];
    for (long s = 0; s < step_count; s++) {
        const float *a = x + steps[s];
#pragma clang loop unroll(disable)
        for (int lane = 0; lane < 8; lane++) {
            const mk_float8 w0 = MK_LOADU(tile0), w1 = MK_LOADU(tile0 + 8), w2 = MK_LOADU(tile1);
            tile0 += 16;
            tile1 += 16;
            mk_float8 v = (mk_float8)a[o0 + lane];
            c00 = v * w0 + c00; c01 = v * w1 + c01; c02 = v * w2 + c02;
            v = (mk_float8)a[o1 + lane];
            c10 = v * w0 + c10; c11 = v * w1 + c11; c12 = v * w2 + c12;
            v = (mk_float8)a[o2 + lane];
            c20 = v * w0 + c20; c21 = v * w1 + c21; c22 = v * w2 + c22;
        }
    }
    MK_FINISH(c00, 0, 0); MK_FINISH(c01, 1, 0); MK_FINISH(c02, 2, 0);
    MK_FINISH(c10, 0, 1); MK_FINISH(c11, 1, 1); MK_FINISH(c12, 2, 1);
    MK_FINISH(c20, 0, 2); MK_FINISH(c21, 1, 2); MK_FINISH(c22, 2, 2);
}

/* Three pixels by four blocks (32 channels): twelve chains of sums, where two pixels' eight wait
 * on the multiply-add latency. Sixteen registers only with the pixels' broadcasts taken first
 * and the four weight vectors loaded one at a time, each right before its three multiply-adds
 * (loaded first, they took four more registers and spilled). */
static inline __attribute__((always_inline)) void mk_wide_tile3x4(const float *x, const long *steps, long step_count,
                                                                  const long *offsets, const float *tile0, const float *tile1,
                                                                  int count, const float *bias, const float *addend,
                                                                  long block_floats, int clamp, mk_float8 lo, mk_float8 hi,
                                                                  float *out) {
    mk_float8 c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23;
    MK_START(c00, 0, 0); MK_START(c01, 1, 0); MK_START(c02, 2, 0); MK_START(c03, 3, 0);
    MK_START(c10, 0, 1); MK_START(c11, 1, 1); MK_START(c12, 2, 1); MK_START(c13, 3, 1);
    MK_START(c20, 0, 2); MK_START(c21, 1, 2); MK_START(c22, 2, 2); MK_START(c23, 3, 2);
    const long o0 = offsets[0], o1 = offsets[1], o2 = offsets[2];
    for (long s = 0; s < step_count; s++) {
        const float *a = x + steps[s];
#pragma clang loop unroll(disable)
        for (int lane = 0; lane < 8; lane++) {
            const mk_float8 v0 = (mk_float8)a[o0 + lane], v1 = (mk_float8)a[o1 + lane], v2 = (mk_float8)a[o2 + lane];
            mk_float8 w = MK_LOADU(tile0);
            c00 = v0 * w + c00; c10 = v1 * w + c10; c20 = v2 * w + c20;
            w = MK_LOADU(tile0 + 8);
            c01 = v0 * w + c01; c11 = v1 * w + c11; c21 = v2 * w + c21;
            w = MK_LOADU(tile1);
            c02 = v0 * w + c02; c12 = v1 * w + c12; c22 = v2 * w + c22;
            w = MK_LOADU(tile1 + 8);
            c03 = v0 * w + c03; c13 = v1 * w + c13; c23 = v2 * w + c23;
            tile0 += 16;
            tile1 += 16;
        }
    }
    MK_FINISH(c00, 0, 0); MK_FINISH(c01, 1, 0); MK_FINISH(c02, 2, 0); MK_FINISH(c03, 3, 0);
    MK_FINISH(c10, 0, 1); MK_FINISH(c11, 1, 1); MK_FINISH(c12, 2, 1); MK_FINISH(c13, 3, 1);
    MK_FINISH(c20, 0, 2); MK_FINISH(c21, 1, 2); MK_FINISH(c22, 2, 2); MK_FINISH(c23, 3, 2);
}
#undef MK_START
#undef MK_FINISH
#undef MK_STOREU
#undef MK_LOADU

/* The spin-wait hint (x86 PAUSE, Arm YIELD): a thread polling for the next parallel loop
 * frees its core's pipeline and leaves the loop as soon as the flag flips, which sched_yield
 * (a system call, about 0.6 us in a VM) does not. */
static inline __attribute__((always_inline)) void mk_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

#endif
