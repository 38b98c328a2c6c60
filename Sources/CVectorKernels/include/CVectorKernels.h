#ifndef CVECTORKERNELS_H
#define CVECTORKERNELS_H

#include <stdint.h>

/// Vector kernels for the hot loops of softmax and bfloat16 rounding, in C so that each can be built for
/// AVX-512 and AVX2 in one binary and chosen at run time from the CPU's features.
///
/// Every level computes the same bits as the scalar level 0 (the same operations in the same order), so the
/// level a machine picks never changes an image. Each function takes the level to run at; callers pass
/// `hd_vector_level()` (tests pass each level the CPU has).

/// The best level this CPU runs, detected once: 2 = AVX-512 (F, BW, VL) with FMA, 1 = AVX2 with FMA,
/// 0 = scalar C (any CPU).
int hd_vector_level(void);

/// The largest p[i] * scale of n floats (-infinity for none; NaN never wins); p is not changed.
float hd_scale_max(int level, const float *p, long n, float scale);

/// e[i] = exp(p[i] * scale - shift) for n floats, written over p (bf16 NULL: the product rounded, then the
/// difference) or rounded to bfloat16 into bf16 (p unchanged; e = 2^(p[i] k - b) with k = scale log2(e) and
/// b = shift log2(e) rounded once; see Softmax.c); the exponential's relative error <= 2.3e-7 either way.
/// Returns the sum of e: sixteen running lane sums (element i in lane i % 16), added lane by lane, then the
/// last n % 16 elements in order.
float hd_exp_shifted(int level, float *p, long n, float scale, float shift, uint16_t *bf16);

/// dst[i] = bfloat16(src[i]), round to nearest even, NaN kept quiet: HiDiffKernels' `bfloat16Bits`.
void hd_to_bfloat16(int level, const float *src, uint16_t *dst, long n);

/// Attention for one (sample, head) whose heads are narrow (d and dv at most 32): rows r0..<r1 of
/// o = softmax(scale q K^T) V, written to o (row stride ldo, row r0 first). q, k and v point at the head's
/// first column of row 0 (row strides ldq, ldk, ldv); causal: query row i sees keys 0...i. With
/// roundWeights the softmax weights are rounded to bfloat16 before they multiply V (the sums stay float32),
/// as bfloat16 attention does. scratch holds HD_NARROW_SCRATCH_FLOATS floats (16 rows x 256 keys). Level 2 (AVX-512) and the scalar level 0
/// give the same bits; level 1 runs the scalar code (callers use matrix products there).
#define HD_NARROW_SCRATCH_FLOATS 4096

void hd_attention_narrow(int level, const float *q, long ldq, long r0, long r1, const float *k, long ldk,
                         const float *v, long ldv, long lk, long d, long dv, float scale, int causal,
                         int roundWeights, float *scratch, float *o, long ldo);

// ---- AMX tiles (AMXTiles.c): bfloat16 attention's products ----

/// 1 when this process can run AMX bfloat16 tiles: the CPU has AMX-TILE and AMX-BF16 and Linux granted the
/// tile state (asked once, on the first call). 0 otherwise: callers then use oneDNN's products.
int hd_amx_available(void);

/// Lays out lk key rows of dp bfloat16 (dp a multiple of 32, row stride ldk) in tile order for
/// `hd_amx_scores`: groups of 16 keys, each 32-deep step one 1 KB tile, keys padded with zeros to a multiple
/// of 32. out holds roundUp(lk, 32) * dp values; the keys from k0 (a multiple of 32) start at out + k0 * dp.
void hd_amx_pack_keys(const uint16_t *k, long lk, long ldk, long dp, uint16_t *out);

/// Lays out lk value rows of dv bfloat16 (row stride ldv) in tile order for `hd_amx_weighted_sum`: steps of
/// 32 keys, columns in groups of 16 (dvp = roundUp(dv, 16)), each (step, group) one 1 KB tile of key pairs,
/// zero beyond lk and dv. out holds roundUp(lk, 32) * dvp values; the keys from k0 (a multiple of 32) start at
/// out + k0 * dvp.
void hd_amx_pack_values(const uint16_t *v, long lk, long ldv, long dv, uint16_t *out);

/// s[i][j] = sum over d of q[i][d] k[j][d] for rows x n (both multiples of 32): q row-major with row stride
/// dp (a multiple of 32), kp the packed keys of this block, s row stride lds; float32 sums of exact products.
/// Returns 0 (computing nothing) when AMX is not available.
int hd_amx_scores(const uint16_t *q, long rows, long dp, const uint16_t *kp, long n, float *s, long lds);

/// o (+)= w v for rows x dvp (rows a multiple of 32, dvp of 16) over n keys (a multiple of 32): w bfloat16
/// row-major with row stride ldw, vp the packed values of this block, o float32 with row stride ldo, added
/// to when accumulate is non-zero. Returns 0 (computing nothing) when AMX is not available.
int hd_amx_weighted_sum(const uint16_t *w, long rows, long ldw, const uint16_t *vp, long n, long dvp, float *o,
                        long ldo, int accumulate);

#endif
