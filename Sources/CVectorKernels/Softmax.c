// Softmax's row loops at three levels; see CVectorKernels.h. Every level makes the same operations in the
// same order, fused multiply-adds where the scalar reference calls fmaf, and nothing else fused.
#pragma clang fp contract(off)

#include "CVectorKernels.h"
#include "Internal.h"
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// ---- the scalar reference ----

static float scale_max_scalar(const float *p, long n, float scale) {
    float m = -INFINITY;
    for (long i = 0; i < n; i++) {
        float x = p[i] * scale;
        if (x > m) m = x;
    }
    return m;
}

// The order of the sum: sixteen running lane sums (element i in lane i % 16) over the first n - n % 16
// elements, added lane by lane, then the last n % 16 elements one by one. Sixteen independent chains, so
// the vector loops never wait on one addition for the next.
static float exp_shifted_scalar(float *p, long n, float scale, float shift) {
    float lanes[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) {
            float e = exp_scalar(p[i + l] * scale - shift);
            p[i + l] = e;
            lanes[l] += e;
        }
    float sum = 0;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    for (; i < n; i++) {
        float e = exp_scalar(p[i] * scale - shift);
        p[i] = e;
        sum += e;
    }
    return sum;
}

// The exponential of bfloat16 softmax weights: e = 2^t with t = x k - b in one fused multiply-add
// (k = scale log2(e), b = shift log2(e)), t clamped to [-125, 127] (every result a normal float; NaN stays
// NaN), t = n + f with n = rint(t), 2^f by a degree-5 near-minimax polynomial on [-1/2, 1/2] (relative error
// 2.3e-7, as the float32 exponential's), 2^n put in exactly. Eleven vector operations where the float32
// exponential with its separate scaling takes eighteen. (A degree-4 polynomial, 2.7e-6, was 4% faster
// still, and moved the demo model's 128 px bfloat16 image from 48.8 to 42.7 dB PSNR against float32: the
// sampler amplifies differences this small, so the weights keep float32's accuracy before their rounding.)
static const float W0 = 1.0000001192092896f, W1 = 0.6931469440460205f, W2 = 0.24022120237350464f,
                   W3 = 0.05550713464617729f, W4 = 0.00967553723603487f, W5 = 0.001327644451521337f;

static inline float exp_weight_scalar(float x, float k, float b) {
    float t = fmaf(x, k, -b);
    if (t != t) return t;
    if (t < -125.0f) t = -125.0f;
    if (t > 127.0f) t = 127.0f;
    float n = rintf(t);
    float f = t - n;
    float y = fmaf(W5, f, W4);
    y = fmaf(y, f, W3);
    y = fmaf(y, f, W2);
    y = fmaf(y, f, W1);
    y = fmaf(y, f, W0);
    return ldexpf(y, (int)n);
}

static float exp_weights_scalar(const float *p, long n, float k, float b, uint16_t *bf16) {
    float lanes[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) {
            float e = exp_weight_scalar(p[i + l], k, b);
            bf16[i + l] = bf16_scalar(e);
            lanes[l] += e;
        }
    float sum = 0;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    for (; i < n; i++) {
        float e = exp_weight_scalar(p[i], k, b);
        bf16[i] = bf16_scalar(e);
        sum += e;
    }
    return sum;
}

static void to_bf16_scalar(const float *src, uint16_t *dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = bf16_scalar(src[i]);
}

#if defined(__x86_64__)

// ---- AVX2: eight lanes ----

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp8(__m256 v) {
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.0f);
    // (x < lo) ? lo : x, then (x > hi) ? hi : x: NaN stays NaN, as in exp_scalar.
    __m256 x = _mm256_blendv_ps(v, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
    x = _mm256_blendv_ps(x, hi, _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(0.001381461275741458f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(0.008368710055947304f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(0.04166838899254799f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(0.1666652113199234f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(0.4999999403953552f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
    __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(pow2));
}

/// Eight bfloat16 bit patterns of eight floats, in the low halves of eight 32-bit lanes.
AVX2 static inline __m256i bf16x8(__m256 x) {
    __m256i bits = _mm256_castps_si256(x);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF))), 16);
    __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x0040));
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    return _mm256_blendv_epi8(rounded, quiet, _mm256_castps_si256(nan));
}

AVX2 static inline void store_bf16x8(uint16_t *dst, __m256 x) {
    __m256i v = bf16x8(x);
    // Pack the eight 32-bit lanes (values < 2^16) to 16 bits: packus works per 128-bit half.
    __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128((__m128i *)dst, packed);
}

AVX2 static float scale_max_avx2(const float *p, long n, float scale) {
    long i = 0;
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    const __m256 s8 = _mm256_set1_ps(scale);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(p + i), s8);
        m8 = _mm256_blendv_ps(m8, v, _mm256_cmp_ps(v, m8, _CMP_GT_OQ));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, m8);
    float m = -INFINITY;
    for (int l = 0; l < 8; l++) if (lanes[l] > m) m = lanes[l];
    for (; i < n; i++) {
        float x = p[i] * scale;
        if (x > m) m = x;
    }
    return m;
}

/// The tail (fewer than sixteen floats) of exp_shifted: eight at a time, added to sum one by one in order.
AVX2 static float exp_tail_avx2(float *p, long n, float scale, float shift, float sum) {
    for (long c = 0; c < n; c += 8) {
        long count = n - c < 8 ? n - c : 8;
        float in[8] = {0, 0, 0, 0, 0, 0, 0, 0}, out[8];
        for (long l = 0; l < count; l++) in[l] = p[c + l];
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(in), _mm256_set1_ps(scale));
        _mm256_storeu_ps(out, exp8(_mm256_sub_ps(x, _mm256_set1_ps(shift))));
        for (long l = 0; l < count; l++) {
            p[c + l] = out[l];
            sum += out[l];
        }
    }
    return sum;
}

/// Lanes 0-7 then 8-15, one by one.
AVX2 static float lane_sum16(__m256 lo, __m256 hi) {
    float lanes[16];
    _mm256_storeu_ps(lanes, lo);
    _mm256_storeu_ps(lanes + 8, hi);
    float sum = 0;
    for (int l = 0; l < 16; l++) sum += lanes[l];
    return sum;
}

AVX2 static float exp_shifted_avx2(float *p, long n, float scale, float shift) {
    const __m256 s8 = _mm256_set1_ps(shift), k8 = _mm256_set1_ps(scale);
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp8(_mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(p + i), k8), s8));
        __m256 e1 = exp8(_mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(p + i + 8), k8), s8));
        _mm256_storeu_ps(p + i, e0);
        _mm256_storeu_ps(p + i + 8, e1);
        lo = _mm256_add_ps(lo, e0);
        hi = _mm256_add_ps(hi, e1);
    }
    return exp_tail_avx2(p + i, n - i, scale, shift, lane_sum16(lo, hi));
}

/// exp_weight_scalar on eight lanes: the clamp as max(lo, t) and min(hi, t), which return t when it is NaN.
AVX2 static inline __m256 exp_weight8(__m256 x, __m256 k, __m256 b) {
    __m256 t = _mm256_fmsub_ps(x, k, b);
    t = _mm256_max_ps(_mm256_set1_ps(-125.0f), t);
    t = _mm256_min_ps(_mm256_set1_ps(127.0f), t);
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(t, n);
    __m256 y = _mm256_fmadd_ps(_mm256_set1_ps(W5), f, _mm256_set1_ps(W4));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(W3));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(W2));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(W1));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(W0));
    // 2^n as a float (n in [-125, 127]: a normal power of two); NaN lanes keep y, itself NaN.
    __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 e = _mm256_mul_ps(y, _mm256_castsi256_ps(pow2));
    return _mm256_blendv_ps(e, t, _mm256_cmp_ps(t, t, _CMP_UNORD_Q));
}

AVX2 static float exp_weights_tail_avx2(const float *p, long n, float k, float b, uint16_t *bf16, float sum) {
    for (long c = 0; c < n; c += 8) {
        long count = n - c < 8 ? n - c : 8;
        float in[8] = {0, 0, 0, 0, 0, 0, 0, 0}, out[8];
        for (long l = 0; l < count; l++) in[l] = p[c + l];
        _mm256_storeu_ps(out, exp_weight8(_mm256_loadu_ps(in), _mm256_set1_ps(k), _mm256_set1_ps(b)));
        for (long l = 0; l < count; l++) {
            bf16[c + l] = bf16_scalar(out[l]);
            sum += out[l];
        }
    }
    return sum;
}

AVX2 static float exp_weights_avx2(const float *p, long n, float k, float b, uint16_t *bf16) {
    const __m256 k8 = _mm256_set1_ps(k), b8 = _mm256_set1_ps(b);
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = exp_weight8(_mm256_loadu_ps(p + i), k8, b8);
        __m256 e1 = exp_weight8(_mm256_loadu_ps(p + i + 8), k8, b8);
        store_bf16x8(bf16 + i, e0);
        store_bf16x8(bf16 + i + 8, e1);
        lo = _mm256_add_ps(lo, e0);
        hi = _mm256_add_ps(hi, e1);
    }
    return exp_weights_tail_avx2(p + i, n - i, k, b, bf16 + i, lane_sum16(lo, hi));
}

AVX2 static void to_bf16_avx2(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) store_bf16x8(dst + i, _mm256_loadu_ps(src + i));
    for (; i < n; i++) dst[i] = bf16_scalar(src[i]);
}

// ---- AVX-512: sixteen lanes ----


AVX512 static float scale_max_avx512(const float *p, long n, float scale) {
    long i = 0;
    __m512 m16 = _mm512_set1_ps(-INFINITY);
    const __m512 s16 = _mm512_set1_ps(scale);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(p + i), s16);
        m16 = _mm512_mask_mov_ps(m16, _mm512_cmp_ps_mask(v, m16, _CMP_GT_OQ), v);
    }
    float m = _mm512_reduce_max_ps(m16);  // a maximum is exact: the order of the comparisons does not matter
    float rest = scale_max_avx2(p + i, n - i, scale);
    return rest > m ? rest : m;
}

AVX512 static float exp_shifted_avx512(float *p, long n, float scale, float shift) {
    const __m512 s16 = _mm512_set1_ps(shift), k16 = _mm512_set1_ps(scale);
    __m512 acc = _mm512_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_mul_ps(_mm512_loadu_ps(p + i), k16), s16));
        _mm512_storeu_ps(p + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    __m256 lo = _mm512_castps512_ps256(acc);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    return exp_tail_avx2(p + i, n - i, scale, shift, lane_sum16(lo, hi));
}

/// exp_weight_scalar on sixteen lanes; VSCALEFPS puts 2^n in (exact: every result is a normal float) and
/// passes NaN through.
AVX512 static inline __m512 exp_weight16(__m512 x, __m512 k, __m512 b) {
    __m512 t = _mm512_fmsub_ps(x, k, b);
    t = _mm512_max_ps(_mm512_set1_ps(-125.0f), t);
    t = _mm512_min_ps(_mm512_set1_ps(127.0f), t);
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 y = _mm512_fmadd_ps(_mm512_set1_ps(W5), f, _mm512_set1_ps(W4));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(W3));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(W2));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(W1));
    y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(W0));
    return _mm512_scalef_ps(y, n);
}

/// The weights' loop, their bfloat16 rounding in integer arithmetic (`bf16x16`) or by the CPU's own
/// VCVTNEPS2BF16 (AVX512-BF16). The two agree on every value taken here: the instruction rounds to nearest
/// even as `bf16x16` does and differs only on subnormal inputs (it flushes them), and every weight is normal.
#define WEIGHTS_LOOP(NAME, ATTR, CONVERT)                                                                  \
    ATTR static float NAME(const float *p, long n, float k, float b, uint16_t *bf16) {                   \
        const __m512 k16 = _mm512_set1_ps(k), b16 = _mm512_set1_ps(b);                                   \
        __m512 acc = _mm512_setzero_ps();                                                                  \
        long i = 0;                                                                                        \
        for (; i + 16 <= n; i += 16) {                                                                     \
            __m512 e = exp_weight16(_mm512_loadu_ps(p + i), k16, b16);                                     \
            _mm256_storeu_si256((__m256i *)(bf16 + i), CONVERT(e));                                        \
            acc = _mm512_add_ps(acc, e);                                                                   \
        }                                                                                                  \
        __m256 lo = _mm512_castps512_ps256(acc);                                                           \
        __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));                    \
        return exp_weights_tail_avx2(p + i, n - i, k, b, bf16 + i, lane_sum16(lo, hi));                   \
    }

#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,avx512bf16")))

AVX512BF16 static inline __m256i bf16x16_native(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

WEIGHTS_LOOP(exp_weights_avx512, AVX512, bf16x16)
WEIGHTS_LOOP(exp_weights_avx512bf16, AVX512BF16, bf16x16_native)

static int has_avx512bf16(void) {
    static _Atomic int known = -1;
    int v = known;
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512bf16") ? 1 : 0;
        known = v;
    }
    return v;
}

AVX512 static void to_bf16_avx512(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), bf16x16(_mm512_loadu_ps(src + i)));
    to_bf16_avx2(src + i, dst + i, n - i);
}

#endif

float hd_scale_max(int level, const float *p, long n, float scale) {
#if defined(__x86_64__)
    if (level >= 2) return scale_max_avx512(p, n, scale);
    if (level == 1) return scale_max_avx2(p, n, scale);
#endif
    return scale_max_scalar(p, n, scale);
}

float hd_exp_shifted(int level, float *p, long n, float scale, float shift, uint16_t *bf16) {
    if (bf16) {
        // Folded once here, so every level exponentiates with the same two constants.
        const float log2e = 1.44269504088896341f;
        float k = scale * log2e, b = shift * log2e;
#if defined(__x86_64__)
        if (level >= 2) return has_avx512bf16() ? exp_weights_avx512bf16(p, n, k, b, bf16)
                                                : exp_weights_avx512(p, n, k, b, bf16);
        if (level == 1) return exp_weights_avx2(p, n, k, b, bf16);
#endif
        return exp_weights_scalar(p, n, k, b, bf16);
    }
#if defined(__x86_64__)
    if (level >= 2) return exp_shifted_avx512(p, n, scale, shift);
    if (level == 1) return exp_shifted_avx2(p, n, scale, shift);
#endif
    return exp_shifted_scalar(p, n, scale, shift);
}

void hd_to_bfloat16(int level, const float *src, uint16_t *dst, long n) {
#if defined(__x86_64__)
    if (level >= 2) { to_bf16_avx512(src, dst, n); return; }
    if (level == 1) { to_bf16_avx2(src, dst, n); return; }
#endif
    to_bf16_scalar(src, dst, n);
}
