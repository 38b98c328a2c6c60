#ifndef CVECTORKERNELS_H
#define CVECTORKERNELS_H

#include <stdint.h>

/// Vector kernels for the hot loops of softmax and bfloat16 rounding, in C so that each can be built for
/// AVX-512 and AVX2 in one binary and chosen at run time from the CPU's features.
///
/// Every level computes the same bits as the portable Swift loops in HiDiffKernels (the same operations, in
/// the same order, unfused), so the level a machine picks never changes an image.

/// The vector unit the kernels run on, detected once: 2 = AVX-512 (F, BW, VL), 1 = AVX2, 0 = none (the
/// callers' portable Swift loops run instead).
int hd_vector_level(void);

/// p[i] *= scale for n floats (no multiplication when scale is 1); returns the largest result (-infinity
/// for none; NaN never wins): the portable `scaleAndMax`.
float hd_scale_max(int level, float *p, long n, float scale);

/// e[i] = fastExp(p[i] - shift) for n floats, written over p (bf16 NULL) or rounded to bfloat16 into bf16
/// (p unchanged); returns the sum of e in the order of the portable `expShiftedInPlace` (eight running lane
/// sums, added lane by lane, then the tail).
float hd_exp_shifted(int level, float *p, long n, float shift, uint16_t *bf16);

/// dst[i] = bfloat16(src[i]), round to nearest even, NaN kept quiet: the portable `bfloat16Bits`.
void hd_to_bfloat16(int level, const float *src, uint16_t *dst, long n);

#endif
