// oneDNN (Debian's libdnnl-dev): the matmul primitive, for bfloat16 matrix products with float32 results, and
// the convolution and reorder primitives for bfloat16 convolutions.
#include <oneapi/dnnl/dnnl.h>

// Argument indices as plain constants (the header defines them through other macros).
static const int hidiff_dnnl_arg_src = DNNL_ARG_SRC;
static const int hidiff_dnnl_arg_weights = DNNL_ARG_WEIGHTS;
static const int hidiff_dnnl_arg_dst = DNNL_ARG_DST;
static const int hidiff_dnnl_arg_scratchpad = DNNL_ARG_SCRATCHPAD;
static const int hidiff_dnnl_arg_bias = DNNL_ARG_BIAS;
static const int hidiff_dnnl_arg_from = DNNL_ARG_FROM;
static const int hidiff_dnnl_arg_to = DNNL_ARG_TO;

// Debian's oneDNN runs its kernels on OpenMP (libgomp). A thread that already has its share of the cores
// (an attention tile) asks for one thread per product; the setting is per calling thread.
extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);
