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

/* ---- Results: one path, decided by the status class (ntk_error.h) ----
 * Misuse (status < 0) raises "bad argument #n to 'f' (msg)", n the Lua position of the core
 * argument err->arg names (no position: a plain error); a failure of valid input (status > 0:
 * numerical, memory, files) returns nil, msg.
 *
 * Core argument i came from Lua argument pos->lua[i] (0: not a Lua argument). Write the map
 * with LNTK_ARGS in the order of the core function's parameters, naming the Lua positions:
 *   lntk_result(L, &err, LNTK_ARGS(0, ARG_NET, ARG_X))   core (out, net, X): net #1, X #2.
 * A NULL map means the core counts arguments as the Lua function does (ntk_linalg, ntk_io). */
typedef struct lntk_args {
  signed char lua[16]; /* lua[i]: Lua position of core argument i (1-based); lua[0] unused */
} lntk_args;
#define LNTK_ARGS(...) (&(const lntk_args){{0, __VA_ARGS__}})

/* The one result path (above): raises for misuse, else pushes nil, msg and returns 2. */
int lntk_result(lua_State *L, const ntk_error *err, const lntk_args *pos);
/* The same, with failures returned as nil, "prefix: msg" (a file's path). */
int lntk_result_at(lua_State *L, const ntk_error *err, const lntk_args *pos, const char *prefix);
/* For calls whose contract is to raise on every failure (a diverging trainer): misuse as a bad
 * argument, anything else as a plain error carrying the message. */
int lntk_raise(lua_State *L, const ntk_error *err, const lntk_args *pos);
/* The result path with the Lua position given outright: misuse names argument arg (0: none). */
int lntk_fail(lua_State *L, const ntk_error *err, int arg);
/* Raises "bad argument #arg to 'f' (expected shape ..., got ...)". */
int lntk_shapeerror(lua_State *L, int arg, const char *expected, const ntk_tensor *got);


/* ---- Classes: one registration for every userdata type ---- */
typedef struct lntk_class {
  const char *name;         /* metatable name, e.g. LNTK_MLP_MT */
  lua_CFunction release;    /* idempotent free: becomes __gc, __close and the method release */
  const luaL_Reg *meta;     /* other metamethods (__tostring, __len, ...), or NULL */
  const luaL_Reg *methods;  /* methods; the table is also the metatable's __methods */
  lua_CFunction fields;     /* NULL, or (obj, key) -> value for keys that are not methods
                             * (read-only fields such as tr.t); __index then tries the methods
                             * first, so release resolves on a released object */
  const luaL_Reg *funcs;    /* NULL, or the module functions of the concept (constructors...),
                             * set into the module table on top of the stack */
} lntk_class;
/* Defines `static int fn(lua_State *L)`, the release function of a class `name` whose userdata
 * (C type `box`) owns one core object in its pointer `field`: frees it with the core's `freefn`
 * (which takes NULL) and leaves NULL behind, the released state, so a second call is harmless. */
#define LNTK_RELEASE(fn, box, name, field, freefn) \
  static int fn(lua_State *L) {                   \
    box *released_ = luaL_checkudata(L, 1, name); \
    freefn(released_->field);                     \
    released_->field = NULL;                      \
    return 0;                                     \
  }
/* Builds the metatable of c (before any object of it exists) and sets c->funcs into the module
 * table on top of the stack: a concept's opener is this one call. */
void lntk_newclass(lua_State *L, const lntk_class *c);
/* Adds methods to an existing class (the tensor's methods live in three binding files). */
void lntk_extendclass(lua_State *L, const char *name, const luaL_Reg *methods);
/* Pushes a new zeroed userdata of `size` bytes with class `name`'s metatable: a failure to
 * fill it leaves an object that its release function frees safely. */
void *lntk_newobject(lua_State *L, size_t size, const char *name);
/* Raises "attempt to use a released <what>" (an object whose release function has run). */
int lntk_released(lua_State *L, const char *what);

/* ---- Options: declared as data ----
 * An option table is checked against a list of lntk_option (ended by {NULL}): unknown keys raise
 * "invalid option 'k'" with the valid keys (and a suggestion for a near miss such as 'widhts');
 * a value of the wrong type raises "option 'k': <what> expected, got <type>"; a choice that is
 * not in the list raises "option 'k': expected one of 'a', 'b', got 'v'" (with a suggestion for
 * 'Tanh'). Range checks that depend on other arguments stay with the caller. */
typedef enum lntk_opttype {
  LNTK_OPT_NUMBER = 1, /* lua_Number; .num */
  LNTK_OPT_INTEGER,    /* lua_Integer (a number with an integer value); .integer */
  LNTK_OPT_BOOLEAN,    /* .boolean */
  LNTK_OPT_STRING,     /* .str, valid while the option table is */
  LNTK_OPT_CHOICE,     /* a string among .choices; .choice is its index */
  LNTK_OPT_TENSOR,     /* a live tensor; .tensor, and .idx its stack slot */
  LNTK_OPT_OBJECT,     /* a userdata of class .mt; .idx */
  LNTK_OPT_TABLE,      /* .idx */
  LNTK_OPT_FUNCTION,   /* .idx */
  LNTK_OPT_ANY         /* any non-nil value, checked by the caller; .idx */
} lntk_opttype;

typedef struct lntk_option {
  const char *key;
  lntk_opttype type;
  int required;               /* 1: absent is an error ("<what> expected, got nil") */
  double def;                 /* default of a number, integer, boolean or choice index */
  const char *const *choices; /* LNTK_OPT_CHOICE: NULL-ended list of names */
  const char *what;           /* how the error names the expected value (default: the type) */
  const char *mt;             /* LNTK_OPT_OBJECT: metatable name */
} lntk_option;

/* One entry of an option list: LNTK_OPT("tile", LNTK_OPT_INTEGER, .def = 0); the list ends with
 * LNTK_OPT_END. */
#define LNTK_OPT(k, t, ...) {.key = (k), .type = (t), __VA_ARGS__}
#define LNTK_OPT_END {.key = NULL}

typedef struct lntk_optval {
  int present;          /* the key was given (not nil) */
  lua_Number num;       /* NUMBER, INTEGER (as a number) */
  lua_Integer integer;  /* INTEGER */
  int boolean;          /* BOOLEAN */
  int choice;           /* CHOICE: index into choices */
  const char *str;      /* STRING, CHOICE */
  ntk_tensor *tensor;   /* TENSOR */
  int idx;              /* stack slot of a TENSOR, OBJECT, TABLE, FUNCTION or ANY value (0 if
                         * absent); the value is pushed, so it lives as long as the frame */
} lntk_optval;

/* Checks the option table at Lua argument tbl (none or nil: every option takes its default,
 * unless one is required) and fills out[i] for spec[i]. Returns 1 when a table was given. */
int lntk_options(lua_State *L, int tbl, const lntk_option *spec, lntk_optval *out);
/* Raises "bad argument #tbl to 'f' (option 'key': msg)". */
int lntk_opterror(lua_State *L, int tbl, const char *key, const char *msg);
/* Raises "option 'key': expected one of 'a', 'b', got 'v'" (with a suggestion for a near miss). */
int lntk_choiceerror(lua_State *L, int tbl, const char *key, const char *const names[],
                     const char *got);
/* Index of s in the NULL-ended list names, or -1. */
int lntk_findname(const char *const names[], const char *s);
/* Raises "bad argument #tbl to 'f' (invalid option 'key')" for keys not in the NULL-ended list
 * (the valid keys and a near miss are named too). */
void lntk_checkoptions(lua_State *L, int tbl, const char *const allowed[]);
/* The arguments of a kernel call (obj, X [, X2] [, options]) at positions 1 to 4. */
typedef struct lntk_kernel_call {
  ntk_tensor *X1, *X2; /* X (position 2); X2 (position 3), NULL: the symmetric kernel of X1 */
  size_t P1, P2;       /* sample counts: set by the caller's input check */
  int opt;             /* stack index of the option table (after X2 or in its place), 0: none */
} lntk_kernel_call;
/* Fills k's X1, X2 and opt. `call` shows the signature in the error for a fifth argument, e.g.
 * "net, X [, X2] [, options]". Shapes are the caller's to check. */
void lntk_kernel_args(lua_State *L, const char *call, lntk_kernel_call *k);
/* The names of the kernel layouts (ntk_kernel_output), for the option output. */
extern const char *const lntk_kernel_output_names[];
/* The Adam step option (opts.eta of the kernel functions, paper Eq. 91) in option slot v of the
 * table at Lua argument opt: NULL when absent, else a 1-d tensor (any view) of nparams finite
 * values >= 0. The core checks it too; here the messages name the option. */
const ntk_tensor *lntk_opt_eta(lua_State *L, int opt, const lntk_optval *v, size_t nparams);
/* The file path at idx: a string without NUL bytes (the C library would stop at the first one and
 * open another file). */
const char *lntk_checkpath(lua_State *L, int idx);

/* Checks that argument idx is an rng. */
ntk_rng *lntk_checkrng(lua_State *L, int idx);
/* Checks that argument idx is a live mlp; raises "attempt to use a released mlp" otherwise. */
ntk_mlp *lntk_checkmlp(lua_State *L, int idx);

/* An MLP architecture read from the table ntklab.mlp takes (lntk_mlp.c), with the arrays its
 * configuration points into; opt[] holds every option as read (LNTK_ARCH_SEED, LNTK_ARCH_RNG:
 * the randomness, for a caller that draws weights). */
enum { LNTK_ARCH_WIDTHS, LNTK_ARCH_ACTIVATION, LNTK_ARCH_BIAS, LNTK_ARCH_PARAM, LNTK_ARCH_SIGMA,
       LNTK_ARCH_BIAS_SIGMA, LNTK_ARCH_INIT, LNTK_ARCH_SEED, LNTK_ARCH_RNG, LNTK_ARCH_NOPTS };
typedef struct lntk_architecture {
  ntk_mlp_config cfg;
  size_t widths[NTK_MLP_MAX_DEPTH + 1];
  ntk_activation act[NTK_MLP_MAX_DEPTH];
  double sigma[NTK_MLP_MAX_DEPTH];
  lntk_optval opt[LNTK_ARCH_NOPTS];
} lntk_architecture;
/* Reads the architecture table at Lua argument arg ({widths, activation, bias, param, sigma,
 * bias_sigma, init, seed | rng}: ntklab.mlp's options), each width at most 2^max_width_log2.
 * Misuse raises "bad argument #arg (option 'key': ...)"; checks of values (sigma >= 0) stay with
 * the core function that takes the configuration. */
void lntk_check_architecture(lua_State *L, int arg, lntk_architecture *a, int max_width_log2);

/* Requests that a running recorder finish at its next record (lntk_finish.c); safe to call from
 * a signal handler. */
void lntk_request_finish(void);

/* The C module entry point (also preloaded by the host executable). */
LUAMOD_API int luaopen_ntklab_core(lua_State *L);

/* Every concept's registration, in the order luaopen_ntklab_core runs them (the tensor first:
 * later concepts add methods to its class). A new binding file adds one X(name) here and defines
 * lntk_open_<name>, which expects the module table on top of the stack. */
#define LNTK_CONCEPTS(X) \
  X(tensor) X(rng) X(io) X(io_mmap) X(linalg) X(regress) X(metrics) X(kernel) X(tensor_ops) X(blas) \
  X(clock) X(finish) X(thin) X(mlp) X(model) X(train) X(analytic) X(tile_matvec)
#define LNTK_DECLARE_OPEN(name) void lntk_open_##name(lua_State *L);
LNTK_CONCEPTS(LNTK_DECLARE_OPEN)
#undef LNTK_DECLARE_OPEN

#endif
