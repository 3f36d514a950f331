/* ntk_kernel.h: the empirical neural tangent kernel of a dense network, and its NNGP layer kernels.
 *
 * For net f = h^L (ntk_mlp.h), h^l = c_l W^l a^{l-1} + b^l, the NTK is
 *   K((x,k), (x',k')) = sum_theta df_k(x)/dtheta df_k'(x')/dtheta
 *                     = sum_l (c_l^2 a^{l-1}(x).a^{l-1}(x') + [bias]) * (g^l_k(x).g^l_k'(x')),
 * g^l_k = df_k/dh^l (backprop signals; g^L_k = e_k). The fast path forms, per layer, the Gram of
 * the layer inputs A_{l-1} and of the signals G_l with syrk/gemm and takes their Hadamard
 * product: one forward and one backward pass, no P x #params Jacobian, memory
 * O(P^2 + P C sum_l n_l) (plus O(P^2 C^2) for the full multi-output kernel). Untiled, the P x P
 * buffers are K, the cached input Gram and, for depth > 2 or the full layout, two Gram scratch
 * matrices; a two-layer traced kernel needs no scratch (layer 1's signal Gram is formed in K and
 * scaled in place, the last layer's Gram is added into K by syrk), and per-layer output of a
 * traced kernel forms each layer's Gram in that layer's buffer (one scratch for depth > 2, none
 * for two layers).
 *
 * Output conventions for C outputs, P1 rows (X1) and P2 columns (X2):
 *   NTK_KERNEL_FULL   (P1 C) x (P2 C), sample-major: row mu*C + k. The C x C block of the pair
 *                     (mu, nu) is rows mu*C .. mu*C+C-1, columns nu*C .. nu*C+C-1.
 *   NTK_KERNEL_BLOCKS (C P1) x (C P2), output-major: row k*P1 + mu. Block (k, k') is the P1 x P2
 *                     kernel between outputs k and k'. Same numbers as FULL, permuted.
 *   NTK_KERNEL_TRACE  P1 x P2, sum_k K((x,k),(x',k)): the trace over outputs, NOT divided by C.
 *   NTK_KERNEL_MEAN   P1 x P2, the trace divided by C (what neural-tangents calls trace_axes).
 * For C = 1 all four are the same P1 x P2 matrix.
 *
 * Inputs are tensors (any views); the kernels written are row-major contiguous double buffers
 * of the sizes above, owned by the caller. */
#ifndef NTK_KERNEL_H
#define NTK_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "ntk_error.h"
#include "ntk_mlp.h"
#include "ntk_tensor.h"

/* Layout of the kernel ntk_kernel_ntk writes (the four layouts described above). */
typedef enum ntk_kernel_output {
  NTK_KERNEL_FULL = 0,
  NTK_KERNEL_BLOCKS,
  NTK_KERNEL_TRACE,
  NTK_KERNEL_MEAN
} ntk_kernel_output;

/* A kernel workspace owns every buffer the fast path needs (layer inputs and signals of both
 * input sets, Gram scratch) and caches the input Gram X1 X2^T across calls. The cache key is the
 * pair of input shapes plus a 64-bit hash of the contents of X1 and X2, recomputed on every call
 * (one read of X, about 1/100 of the cost of the Gram): in-place changes of X can never serve a
 * stale Gram, and an unchanged X is recognised whatever buffer holds it. Buffers grow on demand
 * and are kept until ntk_kernel_ws_free or ntk_kernel_ws_clear. Not thread-safe: one workspace
 * per concurrent caller. */
typedef struct ntk_kernel_ws ntk_kernel_ws;

/* *out <- a new empty workspace. Owner: the caller (ntk_kernel_ws_free). */
int ntk_kernel_ws_new(ntk_kernel_ws **out, ntk_error *err);
/* Frees ws and its buffers; NULL is fine. */
void ntk_kernel_ws_free(ntk_kernel_ws *ws);
/* Releases every buffer and forgets the cached Gram (the workspace stays usable). */
void ntk_kernel_ws_clear(ntk_kernel_ws *ws);
/* Bytes currently held by ws. */
size_t ntk_kernel_ws_bytes(const ntk_kernel_ws *ws);
/* Number of calls that found the input Gram in the cache (for tests and benchmarks). */
size_t ntk_kernel_ws_hits(const ntk_kernel_ws *ws);
/* The 64-bit content hash used as the cache key: of the n doubles at x. */
uint64_t ntk_kernel_hash(const double *x, size_t n);

/* Options of ntk_kernel_ntk; a zeroed struct is the full kernel, no eta, untiled, uncached. */
typedef struct ntk_kernel_opts {
  ntk_kernel_output output; /* layout, see above */
  const ntk_tensor *eta;    /* NULL, or [nparams] step sizes eta_j >= 0 (any view): K_eta below */
  size_t tile;              /* 0: one block; else compute the kernel in tile x tile sample blocks */
  ntk_kernel_ws *ws;        /* NULL: a temporary workspace (no caching across calls) */
} ntk_kernel_opts;

/* K <- NTK(X1, X2) in opts->output layout, for inputs X1 [P1 x D] and X2 [P2 x D] (or [P] when
 * D = 1; any views: non-contiguous ones are copied once); X2 = NULL means X2 = X1, computed as a
 * symmetric Gram with syrk. K is a contiguous buffer of ntk_kernel_shape's size. layers (NULL, or net->depth buffers each the size of K) <- the
 * contribution of each layer's parameters (W^l and b^l); they sum to K.
 *
 * With opts->eta: K_eta((x,k),(x',k')) = sum_j eta_j df_k(x)/dtheta_j df_k'(x')/dtheta_j (the
 * paper's Eq. 91, eta = Adam's effective step per parameter). A general eta does not factor into
 * Grams, so this path forms sqrt(eta)-scaled Jacobian column tiles of at most
 * NTK_KERNEL_ETA_COLS columns, one at a time: cost O(P^2 C^2 #params), memory O(P C 2048).
 *
 * opts->tile = T > 0 bounds the scratch to O(C^2 T^2) by computing T x T sample blocks (see
 * NTK_KERNEL_AUTO_TILE for the default without a workspace); the
 * input Gram is then recomputed per block and not cached (a cached P x P Gram would defeat the
 * bound). Ignored with eta. Runs one forward pass of net per input set (its forward cache is
 * overwritten). */
int ntk_kernel_ntk(double *K, double **layers, ntk_mlp *net, const ntk_tensor *X1,
                   const ntk_tensor *X2, const ntk_kernel_opts *opts, ntk_error *err);

/* Checks inputs against net without copying: [P x D] (or [P] when D = 1), P >= 1, else
 * NTK_ESHAPE "[P x D] inputs expected, got ..." for argument arg1 or arg2 (X2 may be NULL). A
 * caller that allocates results from P checks first (the functions here check again). */
int ntk_kernel_check_inputs(const ntk_mlp *net, const ntk_tensor *X1, const ntk_tensor *X2,
                            int arg1, int arg2, ntk_error *err);
/* x1 (and x2 when X2 is given) <- contiguous data of inputs checked against net: [P x D] (or [P]
 * when D = 1), P >= 1, else NTK_ESHAPE "[P x D] inputs expected, got ..." for argument arg1 or
 * arg2. x1, x2 released on entry; the caller releases them. */
int ntk_kernel_inputs(ntk_tensor *x1, ntk_tensor *x2, const ntk_mlp *net, const ntk_tensor *X1,
                      const ntk_tensor *X2, int arg1, int arg2, ntk_error *err);
/* dst <- contiguous eta ([nparams], finite, >= 0; argument arg); nothing for eta = NULL. */
int ntk_kernel_eta(ntk_tensor *dst, const ntk_mlp *net, const ntk_tensor *eta, int arg,
                   ntk_error *err);

/* Jacobian columns per tile on the eta path: memory O(P C 2048) doubles, see above. */
#define NTK_KERNEL_ETA_COLS 2048
/* A call without a workspace (nothing to cache) and with more samples than this runs as if
 * tile = NTK_KERNEL_AUTO_TILE had been given: its scratch stays at 2 x 8 MB instead of 2 P^2
 * doubles, at the same or better speed (measured at P = 2000 and 4000). tile = T >= P1, P2
 * forces the untiled path. */
#define NTK_KERNEL_AUTO_TILE 1024

/* Rows and columns of the kernel that ntk_kernel_ntk writes for this output layout. */
void ntk_kernel_shape(size_t *rows, size_t *cols, ntk_kernel_output output, size_t C, size_t P1,
                      size_t P2);

/* NNGP layer kernels: K_l <- A_l(X1) A_l(X2)^T for l = 0..L (A_0 = X, A_L = f), the raw inner
 * products of the representations (no 1/n_l), each P1 x P2. kernels[l] may be NULL to skip a
 * layer. X2 = NULL means X1. */
int ntk_kernel_nngp(double **kernels, ntk_mlp *net, const ntk_tensor *X1, const ntk_tensor *X2,
                    ntk_error *err);

/* Reference path (ntk_kernel_ref.c), independent of the fast one: J <- df/dtheta for X (P x D),
 * (P C) x nparams row-major, row mu*C + k, columns in the flat parameter order. Built by a
 * plain per-sample, per-output forward and backward pass. */
int ntk_kernel_jacobian(double *J, const ntk_mlp *net, const ntk_tensor *X, ntk_error *err);

/* Reference kernel: K <- J1 diag(eta) J2^T (eta NULL: all ones) restricted to the parameters of
 * layer `layer` (1..L; 0: all), in the output layout of ntk_kernel_ntk. Memory O(P C #params). */
int ntk_kernel_ntk_ref(double *K, const ntk_mlp *net, const ntk_tensor *X1, const ntk_tensor *X2,
                       ntk_kernel_output output, const ntk_tensor *eta, int layer,
                       ntk_error *err);

#endif
