// The kernels are part of HiDiffCore's API (parallelRanges, fastExp, ...): one import gives both.
@_exported import HiDiffKernels
