/* ntk_blas.h: BLAS products on tensors (gemm, gemv, syrk), honouring views and transposes.
 * Results named "fresh" are new contiguous tensors owned by the caller; output tensors must be
 * released (zeroed) on entry unless said otherwise. */
#ifndef NTK_BLAS_H
#define NTK_BLAS_H

#include "ntk_error.h"
#include "ntk_tensor.h"

/* C <- alpha A B + beta C (gemm; A, B, C 2-D; any views/transposes; C preallocated). */
int ntk_blas_gemm(ntk_tensor *C, double alpha, const ntk_tensor *A, const ntk_tensor *B,
                    double beta, ntk_error *err);
/* C <- A B, fresh. */
int ntk_blas_matmul(ntk_tensor *C, const ntk_tensor *A, const ntk_tensor *B, ntk_error *err);
/* C <- A A^T (syrk, full symmetric result), fresh. */
int ntk_blas_gram(ntk_tensor *C, const ntk_tensor *A, ntk_error *err);
#endif
