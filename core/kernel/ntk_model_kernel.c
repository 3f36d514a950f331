/* ntk_model_kernel.c: the NTK of any model from tiles of per-sample gradients (syrk/gemm), its
 * per-group split and Adam's eta-weighted kernel, and the explicit plain-loop twin. */
#include "ntk_model_kernel.h"

#include "ntk_memory.h"

#include <cblas.h>
#include <stdio.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ARG_K = 1, ARG_LAYERS, ARG_MODEL, ARG_X1, ARG_X2, ARG_OPTS };

static int check_kernel(const ntk_tensor *K, size_t rows, size_t cols, int arg, const char *what,
                        ntk_error *err) {
  char buf[64];
  if (!K || !K->storage)
    return ntk_error_set(err, NTK_ERELEASED, arg, "attempt to use a released tensor");
  if (K->ndim != 2 || K->shape[0] != rows || K->shape[1] != cols || !ntk_tensor_is_contiguous(K))
    return ntk_error_set(err, NTK_ESHAPE, arg, "%s: contiguous [%zu x %zu] expected, got %s%s",
                         what, rows, cols, ntk_tensor_shape_str(K, buf, sizeof buf),
                         K->ndim == 2 && K->shape[0] == rows && K->shape[1] == cols
                             ? " (not contiguous)"
                             : "");
  return NTK_OK;
}

/* eta: [nparams] finite values >= 0 (any view); arg names it in errors. */
static int check_eta(const ntk_model *m, const ntk_tensor *eta, int arg, ntk_error *err) {
  char buf[64];
  size_t j;
  int st;
  if (!eta) return NTK_OK;
  st = ntk_tensor_check_live(eta, arg, err);
  if (st != NTK_OK) return st;
  if (eta->ndim != 1 || eta->shape[0] != m->nparams)
    return ntk_error_set(err, NTK_ESHAPE, arg, "eta: [%zu] expected, got %s", m->nparams,
                         ntk_tensor_shape_str(eta, buf, sizeof buf));
  for (j = 0; j < m->nparams; j++) {
    const double e = ntk_tensor_at(eta, j, 0);
    if (!(e >= 0.0) || !isfinite(e))
      return ntk_error_set(err, NTK_EARG, arg, "eta: finite values >= 0 expected, got %g at %zu",
                           e, j + 1);
  }
  return NTK_OK;
}

/* dst (leading dimension ldd) <- Gram of the Jacobian row tiles A (n1 C rows) and B (n2 C rows),
 * both with leading dimension ld, over columns [c0, c0 + nc). Full layout: rows (mu, k) against
 * (nu, k'); trace: sum over k. sym (B = A): upper triangle only, by syrk. */
static void gram_tile(double *dst, size_t ldd, const double *A, const double *B, size_t n1,
                      size_t n2, size_t C, size_t ld, size_t c0, size_t nc, int trace, int sym) {
  size_t k, i;
  if (nc == 0) {
    for (i = 0; i < (trace ? n1 : n1 * C); i++) memset(dst + i * ldd, 0,
                                                       (trace ? n2 : n2 * C) * sizeof *dst);
    return;
  }
  if (!trace) {
    if (sym)
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)(n1 * C), (int)nc, 1.0, A + c0,
                  (int)ld, 0.0, dst, (int)ldd);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n1 * C), (int)(n2 * C), (int)nc,
                  1.0, A + c0, (int)ld, B + c0, (int)ld, 0.0, dst, (int)ldd);
    return;
  }
  for (k = 0; k < C; k++) {
    if (sym)
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n1, (int)nc, 1.0,
                  A + k * ld + c0, (int)(C * ld), k ? 1.0 : 0.0, dst, (int)ldd);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)nc, 1.0,
                  A + k * ld + c0, (int)(C * ld), B + k * ld + c0, (int)(C * ld), k ? 1.0 : 0.0,
                  dst, (int)ldd);
  }
}

/* J rows (n C of them) *= sqrt(eta) column-wise. */
static void scale_rows(double *J, size_t rows, size_t np, const double *seta) {
  size_t r, j;
  if (!seta) return;
  for (r = 0; r < rows; r++)
    for (j = 0; j < np; j++) J[r * np + j] *= seta[j];
}

/* What one kernel computation works on: destinations in full or trace layout. */
typedef struct job {
  ntk_model *m;
  const ntk_tensor *x1, *x2; /* checked batches; x2 == NULL: symmetric */
  size_t P1, P2, C, T;
  int trace;
  double *K;             /* rows x cols, row-major */
  double **layers;       /* ngroups destinations or NULL */
  const double *seta;    /* sqrt(eta) or NULL */
  double *J1, *J2;       /* tile buffers */
} job;

/* One tile pair: Jacobian tiles already in J1 (rows i0..) and J2 (or J1 when diag). */
static void tile_pair(const job *jb, size_t i0, size_t n1, size_t j0, size_t n2, int diag) {
  const size_t np = jb->m->nparams, C = jb->C, ncol = jb->trace ? jb->P2 : jb->P2 * jb->C;
  const size_t r0 = jb->trace ? i0 : i0 * C, q0 = jb->trace ? j0 : j0 * C;
  const double *B = diag ? jb->J1 : jb->J2;
  double *Kt = jb->K + r0 * ncol + q0;
  size_t g, r, q, nr = jb->trace ? n1 : n1 * C, nq = jb->trace ? n2 : n2 * C;
  if (!jb->layers) {
    gram_tile(Kt, ncol, jb->J1, B, n1, n2, C, np, 0, np, jb->trace, diag);
    return;
  }
  for (r = 0; r < nr; r++) memset(Kt + r * ncol, 0, nq * sizeof *Kt);
  for (g = 0; g < (size_t)jb->m->ngroups; g++) {
    const size_t c0 = jb->m->group_off[g], nc = jb->m->group_off[g + 1] - c0;
    double *Lt = jb->layers[g] + r0 * ncol + q0;
    gram_tile(Lt, ncol, jb->J1, B, n1, n2, C, np, c0, nc, jb->trace, diag);
    for (r = 0; r < nr; r++)
      for (q = diag ? r : 0; q < nq; q++) Kt[r * ncol + q] += Lt[r * ncol + q];
  }
}

/* J <- the Jacobian rows of samples [r0, r0 + n) of X (a view of them), scaled by sqrt(eta). */
static int tile_jacobian(ntk_model *m, double *J, const ntk_tensor *X, size_t r0, size_t n,
                         const double *seta, ntk_error *err) {
  ntk_tensor rows;
  int st = ntk_tensor_narrow(&rows, X, 0, r0, n, err);
  if (st != NTK_OK) return st;
  st = m->ops->jacobian(m->impl, J, m->nparams, &rows, err);
  ntk_tensor_release(&rows);
  if (st == NTK_OK) scale_rows(J, n * m->output_dim, m->nparams, seta);
  return st;
}

/* The tile pairs in an order that reuses a tile held from the previous row, so that no tile's
 * Jacobian is computed twice in a row (each tile pair, hence each block of K, is the same
 * computation whatever the order: same bits). Train x train: row i pairs tile i with itself,
 * then with tiles n-1 down to i+1; the last of those, tile i+1, becomes the next row's (n
 * Jacobian tiles for n tiles, not n (n + 1) / 2). Test x train: rows go along the train tiles
 * forwards, then backwards, so a row starts with the tile the previous one ended with. */
static int run(job *jb, ntk_error *err) {
  const size_t T = jb->T;
  size_t i0, j0, k, nt2;
  int st, have_j1 = 0;
  ptrdiff_t j2_tile = -1; /* the X2 tile held in J2, -1 when none */
  for (i0 = 0; i0 < jb->P1; i0 += T) {
    const size_t n1 = jb->P1 - i0 < T ? jb->P1 - i0 : T;
    if (!have_j1) {
      st = tile_jacobian(jb->m, jb->J1, jb->x1, i0, n1, jb->seta, err);
      if (st != NTK_OK) return st;
    }
    have_j1 = 0;
    if (!jb->x2) {
      tile_pair(jb, i0, n1, i0, n1, 1);
      nt2 = (jb->P1 + T - 1) / T;
      for (k = nt2; k-- > i0 / T + 1;) {
        const size_t n2 = jb->P1 - k * T < T ? jb->P1 - k * T : T;
        j0 = k * T;
        st = tile_jacobian(jb->m, jb->J2, jb->x1, j0, n2, jb->seta, err);
        if (st != NTK_OK) return st;
        tile_pair(jb, i0, n1, j0, n2, 0);
      }
      if (i0 + T < jb->P1) { /* J2 holds tile i + 1 (the loop's last): the next row's tile */
        double *t = jb->J1;
        jb->J1 = jb->J2;
        jb->J2 = t;
        have_j1 = 1;
      }
    } else {
      const int backwards = (i0 / T) % 2 == 1;
      nt2 = (jb->P2 + T - 1) / T;
      for (k = 0; k < nt2; k++) {
        const size_t tile = backwards ? nt2 - 1 - k : k;
        const size_t n2 = jb->P2 - tile * T < T ? jb->P2 - tile * T : T;
        j0 = tile * T;
        if (j2_tile != (ptrdiff_t)tile) {
          st = tile_jacobian(jb->m, jb->J2, jb->x2, j0, n2, jb->seta, err);
          if (st != NTK_OK) return st;
          j2_tile = (ptrdiff_t)tile;
        }
        tile_pair(jb, i0, n1, j0, n2, 0);
      }
    }
  }
  return NTK_OK;
}

/* Lower triangle <- upper triangle of the n x n matrix A. */
static void mirror(double *A, size_t n) {
  size_t r, c;
  for (r = 1; r < n; r++)
    for (c = 0; c < r; c++) A[r * n + c] = A[c * n + r];
}

/* dst (blocks layout) <- src (full layout), both (P1 C) x (P2 C). */
static void to_blocks(double *dst, const double *src, size_t P1, size_t P2, size_t C) {
  size_t mu, nu, k, l;
  for (mu = 0; mu < P1; mu++)
    for (k = 0; k < C; k++)
      for (nu = 0; nu < P2; nu++)
        for (l = 0; l < C; l++)
          dst[(k * P1 + mu) * (C * P2) + l * P2 + nu] = src[(mu * C + k) * (C * P2) + nu * C + l];
}

int ntk_model_kernel_ntk(ntk_tensor *K, ntk_tensor *layers, ntk_model *m, const ntk_tensor *X1,
                         const ntk_tensor *X2, const ntk_model_kernel_opts *opts,
                         ntk_error *err) {
  static const ntk_model_kernel_opts defaults = {NTK_KERNEL_FULL, NULL, 0, 0};
  const size_t C = m->output_dim, np = m->nparams;
  double *seta = NULL, **dst = NULL, *tmp = NULL;
  size_t P1, P2 = 0, rows, cols, j, T, g, n;
  job jb;
  int st, blocks;
  if (!opts) opts = &defaults;
  if (opts->output < NTK_KERNEL_FULL || opts->output > NTK_KERNEL_MEAN)
    return ntk_error_set(err, NTK_EARG, ARG_OPTS, "invalid output layout %d", (int)opts->output);
  st = check_eta(m, opts->eta, ARG_OPTS, err);
  /* at least one sample: the MLP's fast path and the layouts assume it */
  if (st == NTK_OK) st = ntk_tensor_check_rows(X1, m->input_dim, 1, " inputs", ARG_X1, err);
  if (st == NTK_OK && X2) st = ntk_tensor_check_rows(X2, m->input_dim, 1, " inputs", ARG_X2, err);
  if (st != NTK_OK) goto done;
  P1 = X1->shape[0];
  if (X2) P2 = X2->shape[0];
  if (st != NTK_OK) goto done;
  if (!X2) P2 = P1;
  ntk_kernel_shape(&rows, &cols, opts->output, C, P1, P2);
  st = check_kernel(K, rows, cols, ARG_K, "kernel", err);
  for (g = 0; st == NTK_OK && layers && g < (size_t)m->ngroups; g++)
    st = check_kernel(&layers[g], rows, cols, ARG_LAYERS, "layer kernel", err);
  if (st != NTK_OK) goto done;
  if (m->ops->ntk && !opts->generic) { /* the model's own structured path, same layouts */
    dst = calloc((size_t)m->ngroups + 1, sizeof *dst);
    if (!dst) {
      st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
      goto done;
    }
    for (g = 0; layers && g < (size_t)m->ngroups; g++) dst[g] = ntk_tensor_data(&layers[g]);
    st = m->ops->ntk(m->impl, ntk_tensor_data(K), layers ? dst : NULL, X1, X2, opts, err);
    goto done;
  }
  blocks = opts->output == NTK_KERNEL_BLOCKS && C > 1;
  dst = calloc((size_t)m->ngroups + 1, sizeof *dst);
  if (!dst) {
    st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
    goto done;
  }
  n = rows * cols;
  if (blocks) { /* computed in the full layout, then permuted */
    tmp = malloc((layers ? (size_t)m->ngroups + 1 : 1) * (n ? n : 1) * sizeof *tmp);
    if (!tmp) {
      st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for a %zu x %zu kernel", rows, cols);
      goto done;
    }
    dst[0] = tmp;
    for (g = 0; layers && g < (size_t)m->ngroups; g++) dst[g + 1] = tmp + (g + 1) * n;
  } else {
    dst[0] = ntk_tensor_data(K);
    for (g = 0; layers && g < (size_t)m->ngroups; g++) dst[g + 1] = ntk_tensor_data(&layers[g]);
  }
  T = opts->tile ? opts->tile : (P1 > P2 ? P1 : P2);
  if (T > (P1 > P2 ? P1 : P2)) T = P1 > P2 ? P1 : P2;
  if (T == 0) T = 1;
  if (opts->eta) {
    seta = malloc((np ? np : 1) * sizeof *seta);
    if (!seta) {
      st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
      goto done;
    }
    for (j = 0; j < np; j++) seta[j] = sqrt(ntk_tensor_at(opts->eta, j, 0));
  }
  memset(&jb, 0, sizeof jb);
  jb.m = m;
  jb.x1 = X1;
  jb.x2 = X2;
  jb.P1 = P1;
  jb.P2 = P2;
  jb.C = C;
  jb.T = T;
  jb.trace = opts->output == NTK_KERNEL_TRACE || opts->output == NTK_KERNEL_MEAN;
  jb.K = dst[0];
  jb.layers = layers ? dst + 1 : NULL;
  jb.seta = seta;
  if (T > SIZE_MAX / sizeof(double) / (C * (np ? np : 1))) {
    st = ntk_error_set(err, NTK_ENOMEM, ARG_OPTS, "Jacobian tile of %zu samples too large", T);
    goto done;
  }
  {
    /* the tiles live in the model between calls (m->tiles, grown here): every entry is written
     * before it is read, so what a previous call left there does not matter */
    const size_t tile_len = T * C * (np ? np : 1), need = (X2 || T < P1 ? 2 : 1) * tile_len;
    if (need > m->tiles_cap) {
      char what[96];
      snprintf(what, sizeof what, "a pair of Jacobian tiles of %zu samples (option tile)", T);
      free(m->tiles); /* before the check: what the model held counts as free again */
      m->tiles = NULL;
      m->tiles_cap = 0;
      st = ntk_memory_check(need * sizeof(double), what, err);
      if (st != NTK_OK) {
        if (err) err->arg = ARG_OPTS; /* the tile option bounds it */
        goto done;
      }
      m->tiles = malloc(need * sizeof *m->tiles);
      if (!m->tiles) {
        st = ntk_error_set(err, NTK_ENOMEM, ARG_OPTS,
                           "out of memory for Jacobian tiles of %zu x %zu doubles (set a smaller "
                           "tile)", T * C, np);
        goto done;
      }
      m->tiles_cap = need;
    }
    jb.J1 = m->tiles;
    jb.J2 = need > tile_len ? m->tiles + tile_len : NULL;
  }
  st = run(&jb, err);
  if (st != NTK_OK) goto done;
  for (g = 0; g <= (layers ? (size_t)m->ngroups : 0); g++) {
    if (!X2) mirror(dst[g], rows);
    if (opts->output == NTK_KERNEL_MEAN)
      for (j = 0; j < n; j++) dst[g][j] /= (double)C;
  }
  if (blocks) {
    to_blocks(ntk_tensor_data(K), dst[0], P1, P2, C);
    for (g = 0; layers && g < (size_t)m->ngroups; g++)
      to_blocks(ntk_tensor_data(&layers[g]), dst[g + 1], P1, P2, C);
  }
done:
  free(seta);
  free(dst);
  free(tmp);
  return st;
}

/* J (P C x np) <- per-sample gradients, one sample and one output at a time through the model's
 * summed backward pass. */
static int jacobian_ref(ntk_model *m, double *J, const ntk_tensor *X, size_t P, ntk_error *err) {
  const size_t C = m->output_dim, np = m->nparams;
  double *out = malloc((C ? C : 1) * sizeof *out), *dout = calloc(C ? C : 1, sizeof *dout);
  size_t mu, k;
  int st = NTK_OK;
  if (!out || !dout) st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory");
  for (mu = 0; st == NTK_OK && mu < P; mu++) {
    ntk_tensor x;
    st = ntk_tensor_narrow(&x, X, 0, mu, 1, err); /* sample mu alone */
    for (k = 0; st == NTK_OK && k < C; k++) {
      st = m->ops->forward(m->impl, out, &x, err);
      dout[k] = 1.0;
      if (st == NTK_OK) st = m->ops->backward(m->impl, J + (mu * C + k) * np, dout, err);
      dout[k] = 0.0;
    }
    ntk_tensor_release(&x);
  }
  free(out);
  free(dout);
  return st;
}

int ntk_model_kernel_ntk_ref(ntk_tensor *K, ntk_model *m, const ntk_tensor *X1,
                             const ntk_tensor *X2, ntk_kernel_output output,
                             const ntk_tensor *eta, int group, ntk_error *err) {
  const size_t C = m->output_dim, np = m->nparams;
  double *J1 = NULL, *J2 = NULL, *Kd;
  const ntk_tensor *x2 = X2 ? X2 : X1;
  size_t P1, P2, rows, cols, mu, nu, k, l, j, c0 = 0, c1 = np;
  int st;
  if (output < NTK_KERNEL_FULL || output > NTK_KERNEL_MEAN)
    return ntk_error_set(err, NTK_EARG, 5, "invalid output layout %d", (int)output);
  if (group < 0 || group > m->ngroups)
    return ntk_error_set(err, NTK_ERANGE, 7, "group %d out of range [0, %d]", group, m->ngroups);
  if (group > 0) {
    c0 = m->group_off[group - 1];
    c1 = m->group_off[group];
  }
  st = check_eta(m, eta, 6, err);
  if (st == NTK_OK) st = ntk_model_check_inputs(m, X1, &P1, 3, err);
  if (st == NTK_OK) st = X2 ? ntk_model_check_inputs(m, X2, &P2, 4, err) : NTK_OK;
  if (st != NTK_OK) goto done;
  if (!X2) P2 = P1;
  ntk_kernel_shape(&rows, &cols, output, C, P1, P2);
  st = check_kernel(K, rows, cols, 1, "kernel", err);
  if (st != NTK_OK) goto done;
  J1 = malloc((P1 * C * np > 0 ? P1 * C * np : 1) * sizeof *J1);
  J2 = malloc((P2 * C * np > 0 ? P2 * C * np : 1) * sizeof *J2);
  if (!J1 || !J2) {
    st = ntk_error_set(err, NTK_ENOMEM, 0, "out of memory for the explicit Jacobians");
    goto done;
  }
  st = jacobian_ref(m, J1, X1, P1, err);
  if (st == NTK_OK) st = jacobian_ref(m, J2, x2, P2, err);
  if (st != NTK_OK) goto done;
  Kd = ntk_tensor_data(K);
  memset(Kd, 0, rows * cols * sizeof *Kd);
  for (mu = 0; mu < P1; mu++)
    for (nu = 0; nu < P2; nu++)
      for (k = 0; k < C; k++)
        for (l = 0; l < C; l++) {
          const double *a = J1 + (mu * C + k) * np, *b = J2 + (nu * C + l) * np;
          double s = 0.0;
          if ((output == NTK_KERNEL_TRACE || output == NTK_KERNEL_MEAN) && k != l) continue;
          for (j = c0; j < c1; j++) s += a[j] * (eta ? ntk_tensor_at(eta, j, 0) : 1.0) * b[j];
          switch (output) {
            case NTK_KERNEL_FULL:
              Kd[(mu * C + k) * cols + nu * C + l] = s;
              break;
            case NTK_KERNEL_BLOCKS:
              Kd[(k * P1 + mu) * cols + l * P2 + nu] = s;
              break;
            case NTK_KERNEL_TRACE:
              Kd[mu * cols + nu] += s;
              break;
            default:
              Kd[mu * cols + nu] += s / (double)C;
          }
        }
done:
  free(J1);
  free(J2);
  return st;
}
