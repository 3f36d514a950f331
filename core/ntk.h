/* ntk.h: the public header of the ntklab core, a C11 library with no Lua in it.
 *
 * Conventions (see README "Embedding"):
 * - names are ntk_<noun>_<verb>; functions that write into a caller's buffer take it first;
 * - every fallible function returns NTK_OK or a status and fills an ntk_error (may be NULL);
 * - negative status: bad argument (err->arg names it); positive: numerical failure. */
#ifndef NTK_H
#define NTK_H

/* The library version, "major.minor.patch" (matches the rockspec and pkg-config file). */
#define NTK_VERSION "0.1.0"

#include "ntk_error.h"
#include "ntk_tensor.h"
#include "ntk_tensor_ops.h"
#include "ntk_rng.h"
#include "ntk_threads.h"
#include "ntk_blas_core.h"
#include "ntk_memory.h"
#include "ntk_activation.h"
#include "ntk_mlp.h"
#include "ntk_layer.h"
#include "ntk_net.h"
#include "ntk_model.h"
#include "ntk_train.h"
#include "ntk_blas.h"
#include "ntk_linalg.h"
#include "ntk_kernel.h"
#include "ntk_model_kernel.h"
#include "ntk_regress.h"
#include "ntk_metrics.h"
#include "ntk_analytic.h"
#include "ntk_io.h"
#include "ntk_io_mmap.h"
#include "ntk_tile_matvec.h"

#endif
