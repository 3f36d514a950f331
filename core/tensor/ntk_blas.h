/* ntk_blas.h: BLAS products on tensors (gemm, gemv, syrk, ger), honouring views and transposes.
 * Results named "fresh" are new contiguous tensors owned by the caller; output tensors must be
 * released (zeroed) on entry unless said otherwise.
 *
 * Any operand with a unit stride in one dimension (contiguous tensors, narrowed or selected
 * views, transposes) goes to BLAS as it is, with a leading dimension and a transpose flag;
 * only layouts with no unit stride at all are first copied. An output that shares memory with
 * an input is computed into a temporary and copied back, since BLAS forbids the overlap. */
#ifndef NTK_BLAS_H
#define NTK_BLAS_H

#include "ntk_error.h"
#include "ntk_tensor.h"

/* C <- alpha A B + beta C (gemm; A, B, C 2-D; any views/transposes; C preallocated).
 * beta = 0 ignores C's old contents (NaN included), as BLAS does. */
int ntk_blas_gemm(ntk_tensor *C, double alpha, const ntk_tensor *A, const ntk_tensor *B,
                    double beta, ntk_error *err);
/* C <- A B, fresh. 2-D @ 2-D (gemm), 2-D @ 1-D (gemv, C 1-D), 1-D @ 2-D (x^T B, C 1-D). */
int ntk_blas_matmul(ntk_tensor *C, const ntk_tensor *A, const ntk_tensor *B, ntk_error *err);
/* C <- A B into an existing C of the result's shape (as ntk_blas_matmul, no allocation). */
int ntk_blas_matmul_into(ntk_tensor *C, const ntk_tensor *A, const ntk_tensor *B,
                         ntk_error *err);
/* C <- A A^T (syrk, full symmetric result), fresh. */
int ntk_blas_gram(ntk_tensor *C, const ntk_tensor *A, ntk_error *err);
/* C <- A A^T into an existing [m x m] C (syrk, both triangles written). */
int ntk_blas_gram_into(ntk_tensor *C, const ntk_tensor *A, ntk_error *err);
/* y <- alpha A x + beta y (gemv; A 2-D, x and y 1-D, any strides; y preallocated). */
int ntk_blas_gemv(ntk_tensor *y, double alpha, const ntk_tensor *A, const ntk_tensor *x,
                  double beta, ntk_error *err);
/* A <- A + alpha x y^T (ger; A [m x n] preallocated, x [m], y [n]). */
int ntk_blas_ger(ntk_tensor *A, double alpha, const ntk_tensor *x, const ntk_tensor *y,
                 ntk_error *err);
/* C <- x y^T, fresh [m x n] (x [m], y [n]). */
int ntk_blas_outer(ntk_tensor *C, const ntk_tensor *x, const ntk_tensor *y, ntk_error *err);
#endif
