/* lntk.h: shared conventions of the Lua binding of the ntklab core.
 *
 * Binding files (lntk_<concept>.c) only check arguments, call the core and translate
 * status codes; each exports lntk_open_<concept>, which registers its functions into the
 * module table on top of the stack and builds its metatables. */
#ifndef LNTK_H
#define LNTK_H

#include <lauxlib.h>
#include <lua.h>

#include "ntk.h"

#define LNTK_TENSOR_MT "ntklab.tensor"
#define LNTK_RNG_MT "ntklab.rng"
#define LNTK_MLP_MT "ntklab.mlp"
#define LNTK_TRAINER_MT "ntklab.trainer"

/* Checks that argument idx is a live tensor; raises "attempt to use a released tensor"
 * for a closed one and a standard bad-argument error for anything else. */
ntk_tensor *lntk_checktensor(lua_State *L, int idx);
/* Like lntk_checktensor, but returns NULL for nil/none. */
ntk_tensor *lntk_opttensor(lua_State *L, int idx);
/* 1 when the value at idx is a tensor userdata (live or released). */
int lntk_istensor(lua_State *L, int idx);
/* Pushes a new, zeroed (released) tensor userdata with its metatable; the caller fills it.
 * A failed fill leaves an object that __gc frees safely. */
ntk_tensor *lntk_pushtensor(lua_State *L);
/* Pushes a new zero tensor of the given shape (ndim 1: cols ignored); raises on failure. */
ntk_tensor *lntk_newtensor(lua_State *L, int ndim, size_t rows, size_t cols);
/* Tells Lua's collector about `bytes` of memory it cannot see (as torch's heap tracking did). */
void lntk_gcstep(lua_State *L, size_t bytes);

/* Turns a failed core status into Lua's convention: for misuse (negative status) raises
 * "bad argument #n to 'f' (msg)", where n = argbase + err->arg; for a numerical failure
 * (positive status) pushes nil, msg and returns 2. */
int lntk_status(lua_State *L, const ntk_error *err, int argbase);
/* The same with the Lua position given outright: misuse names argument arg (0: none). */
int lntk_fail(lua_State *L, const ntk_error *err, int arg);
/* Raises "bad argument #arg to 'f' (expected shape ..., got ...)". */
int lntk_shapeerror(lua_State *L, int arg, const char *expected, const ntk_tensor *got);

/* Checks an option table field: returns its integer value, def when absent. */
lua_Integer lntk_optfield_integer(lua_State *L, int tbl, const char *key, lua_Integer def);
/* Checks an option table field: returns its number value, def when absent. */
lua_Number lntk_optfield_number(lua_State *L, int tbl, const char *key, lua_Number def);
/* Raises "bad argument #tbl to 'f' (invalid option 'key')" for keys not in the NULL-ended list. */
void lntk_checkoptions(lua_State *L, int tbl, const char *const allowed[]);
/* The file path at idx: a string without NUL bytes (the C library would stop at the first one and
 * open another file). */
const char *lntk_checkpath(lua_State *L, int idx);

/* Checks that argument idx is an rng. */
ntk_rng *lntk_checkrng(lua_State *L, int idx);
/* Checks that argument idx is a live mlp; raises "attempt to use a released mlp" otherwise. */
ntk_mlp *lntk_checkmlp(lua_State *L, int idx);
/* Checks that argument idx is a data tensor with `cols` columns (2-D, or 1-D when cols is 1);
 * *rows <- its rows. Returns its elements row-major: the tensor's own data when contiguous,
 * else a contiguous copy pushed on the stack (so it lives as long as the caller's frame). */
const double *lntk_checkdata(lua_State *L, int idx, size_t cols, size_t *rows);

/* The C module entry point (also preloaded by the host executable). */
LUAMOD_API int luaopen_ntklab_core(lua_State *L);

/* Registration of each concept; each expects the module table on top of the stack. */
void lntk_open_tensor(lua_State *L);
void lntk_open_rng(lua_State *L);
void lntk_open_linalg(lua_State *L);
void lntk_open_regress(lua_State *L);
void lntk_open_metrics(lua_State *L);
void lntk_open_kernel(lua_State *L);
void lntk_open_tensor_ops(lua_State *L);
void lntk_open_blas(lua_State *L);
void lntk_open_clock(lua_State *L);
void lntk_open_mlp(lua_State *L);
void lntk_open_model(lua_State *L); /* lua/binding/nn/lntk_model.c: ntklab.model, model_ntk */
void lntk_open_train(lua_State *L);
void lntk_open_io(lua_State *L);
void lntk_open_io_mmap(lua_State *L);
void lntk_open_analytic(lua_State *L);

#endif
