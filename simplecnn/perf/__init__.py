"""Performance: the AVX2 training kernels, the faster training forward the engine swaps in, process tuning."""
