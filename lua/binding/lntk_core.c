/* lntk_core.c: luaopen_ntklab_core and the helpers every binding file shares. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lntk.h"

ntk_tensor *lntk_checktensor(lua_State *L, int idx) {
  ntk_tensor *t = luaL_checkudata(L, idx, LNTK_TENSOR_MT);
  if (!t->storage) luaL_error(L, "attempt to use a released tensor");
  return t;
}

ntk_tensor *lntk_opttensor(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : lntk_checktensor(L, idx);
}

int lntk_istensor(lua_State *L, int idx) {
  return luaL_testudata(L, idx, LNTK_TENSOR_MT) != NULL;
}

ntk_tensor *lntk_pushtensor(lua_State *L) {
  return lntk_newobject(L, sizeof(ntk_tensor), LNTK_TENSOR_MT);
}

ntk_tensor *lntk_newtensor(lua_State *L, int ndim, size_t rows, size_t cols) {
  ntk_error err;
  size_t shape[2];
  ntk_tensor *t = lntk_pushtensor(L);
  shape[0] = rows;
  shape[1] = cols;
  if (ntk_tensor_init(t, ndim, shape, &err) != NTK_OK) luaL_error(L, "%s", err.msg);
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  return t;
}

/* Registry key of the bytes of big objects created since the last collection lntk_gcstep ran. */
static const char gc_debt_key = 'g';

/* Memory outside Lua's heap created between two full collections: at least this much, and at
 * least twice the Lua heap, so a full collection costs a small share of touching that memory. */
#define LNTK_GC_EXTERNAL_MIN ((size_t)64 << 20)

void lntk_gcstep(lua_State *L, size_t bytes) {
  /* Small objects are not worth a collector step. Big ones (tensor storage, nets) live outside
   * Lua's heap, invisible to its accounting. A collector step is not enough: in generational
   * mode (the host's and lua5.4's default) a step is a minor collection, which frees young
   * objects only, so a P x P tensor that outlived two minor collections (e.g. a kernel used for
   * a while and then dropped) stayed until a major collection, which the small Lua heap never
   * triggers: the demo grew by its per-record layer kernels, 16 MB a record, to 1.4 GB. So the
   * bytes created are counted, and past max(64 MiB, 2 x the Lua heap) a full collection runs. */
  size_t *debt;
  size_t heap;
  if (bytes < ((size_t)1 << 20)) return;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &gc_debt_key) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    debt = lua_newuserdatauv(L, sizeof *debt, 0);
    *debt = 0;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &gc_debt_key);
  } else {
    debt = lua_touserdata(L, -1);
    lua_pop(L, 1);
  }
  *debt += bytes;
  heap = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
  if (*debt >= LNTK_GC_EXTERNAL_MIN && *debt >= 2 * heap) {
    *debt = 0;
    lua_gc(L, LUA_GCCOLLECT);
  } else {
    lua_gc(L, LUA_GCSTEP, (int)(bytes >> 10 > 1 << 20 ? 1 << 20 : bytes >> 10));
  }
}

/* Lua position of core argument err->arg under the map pos (NULL: the same position). */
static int lua_position(const ntk_error *err, const lntk_args *pos) {
  if (err->arg <= 0) return 0;
  if (!pos) return err->arg;
  return err->arg < (int)sizeof pos->lua ? pos->lua[err->arg] : 0;
}

static int misuse(lua_State *L, const ntk_error *err, int arg) {
  if (arg > 0) return luaL_argerror(L, arg, err->msg);
  return luaL_error(L, "%s", err->msg);
}

int lntk_result_at(lua_State *L, const ntk_error *err, const lntk_args *pos, const char *prefix) {
  if (err->status < 0) return misuse(L, err, lua_position(err, pos));
  luaL_pushfail(L);
  if (prefix)
    lua_pushfstring(L, "%s: %s", prefix, err->msg);
  else
    lua_pushstring(L, err->msg);
  return 2;
}

int lntk_result(lua_State *L, const ntk_error *err, const lntk_args *pos) {
  return lntk_result_at(L, err, pos, NULL);
}

int lntk_raise(lua_State *L, const ntk_error *err, const lntk_args *pos) {
  if (err->status < 0) return misuse(L, err, lua_position(err, pos));
  return luaL_error(L, "%s", err->msg);
}

int lntk_fail(lua_State *L, const ntk_error *err, int arg) {
  if (err->status < 0) return misuse(L, err, arg);
  return lntk_result_at(L, err, NULL, NULL);
}

int lntk_shapeerror(lua_State *L, int arg, const char *expected, const ntk_tensor *got) {
  char buf[64];
  ntk_tensor_shape_str(got, buf, sizeof buf);
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", expected, buf));
}

/* ---- classes ---- */

/* __index of a class with fields: the methods (upvalue 1) first, then fields (upvalue 2). */
static int class_index(lua_State *L) {
  lua_pushvalue(L, 2);
  if (lua_gettable(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

void lntk_newclass(lua_State *L, const lntk_class *c) {
  luaL_newmetatable(L, c->name);
  if (c->meta) luaL_setfuncs(L, c->meta, 0);
  lua_newtable(L);
  if (c->methods) luaL_setfuncs(L, c->methods, 0);
  if (c->release) {
    lua_pushcfunction(L, c->release);
    lua_setfield(L, -3, "__gc");
    lua_pushcfunction(L, c->release);
    lua_setfield(L, -3, "__close");
    lua_pushcfunction(L, c->release);
    lua_setfield(L, -2, "release");
  }
  /* the method table stays reachable for Lua-side extensions and introspection */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "__methods");
  if (c->fields) {
    lua_pushcfunction(L, c->fields);
    lua_pushcclosure(L, class_index, 2);
  }
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  if (c->funcs) luaL_setfuncs(L, c->funcs, 0);
}

void lntk_extendclass(lua_State *L, const char *name, const luaL_Reg *methods) {
  luaL_getmetatable(L, name);
  lua_getfield(L, -1, "__methods");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}

void *lntk_newobject(lua_State *L, size_t size, const char *name) {
  void *p = lua_newuserdatauv(L, size, 0);
  memset(p, 0, size);
  luaL_setmetatable(L, name);
  return p;
}

int lntk_released(lua_State *L, const char *what) {
  return luaL_error(L, "attempt to use a released %s", what);
}

/* ---- options ---- */

/* Levenshtein distance of a and b ignoring case, capped at 3 (enough to spot a near miss). */
static int near_distance(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b), i, j;
  int row[33], prev, cur;
  if (na > 32 || nb > 32) return 3;
  for (j = 0; j <= nb; j++) row[j] = (int)j;
  for (i = 1; i <= na; i++) {
    prev = row[0];
    row[0] = (int)i;
    for (j = 1; j <= nb; j++) {
      int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
      cur = row[j];
      row[j] = prev + !same;
      if (row[j - 1] + 1 < row[j]) row[j] = row[j - 1] + 1;
      if (cur + 1 < row[j]) row[j] = cur + 1;
      prev = cur;
    }
  }
  return row[nb] < 3 ? row[nb] : 3;
}

/* Pushes "'a', 'b', 'c'" and, when got is within two edits of a name, "; did you mean 'x'?"
 * as a second string. */
static void push_names(lua_State *L, const char *const names[], const char *got) {
  luaL_Buffer b;
  /* a near miss: a case slip ('Tanh') for any name, one edit for 4 letters, two from 5 ('widhts');
   * shorter names (lr, dt, f8) are all within an edit of each other */
  size_t len = got ? strlen(got) : 0;
  int i, best = -1, bestd = len <= 3 ? 1 : len == 4 ? 2 : 3;
  luaL_buffinit(L, &b);
  for (i = 0; names[i]; i++) {
    int d = got ? near_distance(got, names[i]) : 3;
    if (i) luaL_addstring(&b, ", ");
    luaL_addchar(&b, '\'');
    luaL_addstring(&b, names[i]);
    luaL_addchar(&b, '\'');
    if (d < bestd) bestd = d, best = i;
  }
  luaL_pushresult(&b);
  if (best >= 0)
    lua_pushfstring(L, " (did you mean '%s'?)", names[best]);
  else
    lua_pushliteral(L, "");
}

int lntk_findname(const char *const names[], const char *s) {
  int i;
  for (i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}

int lntk_opterror(lua_State *L, int tbl, const char *key, const char *msg) {
  return luaL_argerror(L, tbl, lua_pushfstring(L, "option '%s': %s", key, msg));
}

int lntk_choiceerror(lua_State *L, int tbl, const char *key, const char *const names[],
                     const char *got) {
  push_names(L, names, got);
  return lntk_opterror(L, tbl, key,
                       lua_pushfstring(L, "expected one of %s, got '%s'%s", lua_tostring(L, -2),
                                       got, lua_tostring(L, -1)));
}

static void check_keys(lua_State *L, int tbl, const char *const allowed[]) {
  lua_pushnil(L);
  while (lua_next(L, tbl)) {
    const char *k;
    if (lua_type(L, -2) != LUA_TSTRING) luaL_argerror(L, tbl, "option keys must be strings");
    k = lua_tostring(L, -2);
    if (lntk_findname(allowed, k) < 0) {
      /* a near miss ('widhts') also gets the list of valid keys */
      push_names(L, allowed, k);
      if (*lua_tostring(L, -1))
        luaL_argerror(L, tbl, lua_pushfstring(L, "invalid option '%s'%s; valid options: %s", k,
                                              lua_tostring(L, -1), lua_tostring(L, -2)));
      luaL_argerror(L, tbl, lua_pushfstring(L, "invalid option '%s'", k));
    }
    lua_pop(L, 1);
  }
}

void lntk_checkoptions(lua_State *L, int tbl, const char *const allowed[]) {
  luaL_checktype(L, tbl, LUA_TTABLE);
  check_keys(L, tbl, allowed);
}

static const char *const type_names[] = {
    "", "number", "integer", "boolean", "string", "string", "tensor", "object", "table",
    "function", "value",
};

static void read_option(lua_State *L, int tbl, const lntk_option *o, lntk_optval *v) {
  const char *what = o->what ? o->what : o->type == LNTK_OPT_OBJECT ? o->mt : type_names[o->type];
  int t = lua_type(L, -1), ok = 1, isnum;
  v->present = t != LUA_TNIL;
  if (!v->present) {
    if (o->required)
      lntk_opterror(L, tbl, o->key, lua_pushfstring(L, "%s expected, got nil", what));
    lua_pop(L, 1);
    return;
  }
  switch (o->type) {
    case LNTK_OPT_NUMBER:
      v->num = lua_tonumberx(L, -1, &ok);
      break;
    case LNTK_OPT_INTEGER:
      v->integer = lua_tointegerx(L, -1, &isnum);
      v->num = (lua_Number)v->integer;
      ok = isnum;
      break;
    case LNTK_OPT_BOOLEAN:
      ok = t == LUA_TBOOLEAN;
      v->boolean = lua_toboolean(L, -1);
      break;
    case LNTK_OPT_STRING:
    case LNTK_OPT_CHOICE:
      ok = t == LUA_TSTRING;
      if (ok) v->str = lua_tostring(L, -1);
      if (ok && o->type == LNTK_OPT_CHOICE) {
        v->choice = lntk_findname(o->choices, v->str);
        if (v->choice < 0) lntk_choiceerror(L, tbl, o->key, o->choices, v->str);
      }
      break;
    case LNTK_OPT_TENSOR:
      ok = lntk_istensor(L, -1);
      if (ok) v->tensor = lntk_checktensor(L, -1);
      break;
    case LNTK_OPT_OBJECT:
      ok = luaL_testudata(L, -1, o->mt) != NULL;
      break;
    case LNTK_OPT_TABLE:
      ok = t == LUA_TTABLE;
      break;
    case LNTK_OPT_FUNCTION:
      ok = t == LUA_TFUNCTION;
      break;
    case LNTK_OPT_ANY:
      break;
  }
  if (!ok)
    lntk_opterror(L, tbl, o->key,
                  lua_pushfstring(L, "%s expected, got %s", what, luaL_typename(L, -1)));
  if (o->type >= LNTK_OPT_TENSOR)
    v->idx = lua_gettop(L); /* keep the value on the stack: the caller reads it by index */
  else
    lua_pop(L, 1);
}

int lntk_options(lua_State *L, int tbl, const lntk_option *spec, lntk_optval *out) {
  const char *keys[64];
  int i, n, given = tbl != 0 && !lua_isnoneornil(L, tbl);
  for (n = 0; spec[n].key; n++) {
    keys[n] = spec[n].key;
    if (spec[n].required && !given) luaL_checktype(L, tbl ? tbl : 1, LUA_TTABLE);
  }
  keys[n] = NULL;
  if (given) lntk_checkoptions(L, tbl, keys);
  for (i = 0; i < n; i++) {
    lntk_optval *v = &out[i];
    memset(v, 0, sizeof *v);
    v->num = spec[i].def;
    v->integer = (lua_Integer)spec[i].def;
    v->boolean = spec[i].def != 0.0;
    v->choice = (int)spec[i].def;
    if (spec[i].type == LNTK_OPT_CHOICE) v->str = spec[i].choices[v->choice];
    if (given)
      lua_getfield(L, tbl, spec[i].key);
    else
      lua_pushnil(L);
    read_option(L, tbl, &spec[i], v);
  }
  return given;
}

const char *const lntk_kernel_output_names[] = {"full", "blocks", "trace", "mean", NULL};

void lntk_kernel_args(lua_State *L, const char *call, lntk_kernel_call *k) {
  int opt;
  if (lua_gettop(L) > 4) luaL_argerror(L, 5, lua_pushfstring(L, "no value expected (%s)", call));
  lua_settop(L, 4);
  k->X1 = lntk_checktensor(L, 2);
  k->X2 = lntk_istensor(L, 3) ? lntk_checktensor(L, 3) : NULL;
  k->P1 = k->P2 = 0;
  k->opt = 0;
  opt = k->X2 || lua_isnil(L, 3) ? 4 : 3;
  if (lua_isnil(L, opt)) return;
  if (!lua_istable(L, opt))
    luaL_argerror(L, opt, lua_pushfstring(L, "%s expected, got %s",
                                          opt == 3 ? "tensor X2 or option table" : "table",
                                          luaL_typename(L, opt)));
  if (opt == 3 && !lua_isnil(L, 4)) luaL_argerror(L, 4, "no value expected after the option table");
  k->opt = opt;
}

const ntk_tensor *lntk_opt_eta(lua_State *L, int opt, const lntk_optval *v, size_t nparams) {
  ntk_tensor *t = v->tensor;
  size_t i;
  if (!v->present) return NULL;
  if (t->ndim != 1 || t->shape[0] != nparams) {
    char buf[64];
    ntk_tensor_shape_str(t, buf, sizeof buf);
    lntk_opterror(L, opt, "eta", lua_pushfstring(L, "[%I] (one step per parameter) expected, "
                                                    "got %s", (lua_Integer)nparams, buf));
  }
  for (i = 0; i < nparams; i++) {
    double e = ntk_tensor_at(t, i, 0);
    if (!(e >= 0.0) || !isfinite(e))
      lntk_opterror(L, opt, "eta", lua_pushfstring(L, "entry %I is %f, finite value >= 0 "
                                                      "expected", (lua_Integer)i + 1, e));
  }
  return t;
}

/* threads([n]) -> the BLAS thread count in force, after setting it to min(n, cores) | nil, msg
 * when the OpenBLAS buffers of that many threads do not fit under the address-space limit. */
const char *lntk_checkpath(lua_State *L, int idx) {
  size_t len;
  const char *path = luaL_checklstring(L, idx, &len);
  if (strlen(path) != len) luaL_argerror(L, idx, "path without NUL bytes expected");
  return path;
}

static int core_threads(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    int cores = ntk_threads_cores();
    ntk_error err;
    luaL_argcheck(L, n >= 1 && n <= 4096, 1, "thread count in [1, 4096] expected");
    if (n > cores) n = cores;
    if (ntk_memory_check_threads((int)n, &err) != NTK_OK) {
      /* the world's limit, not the caller's mistake: nil, msg, the old count stays */
      luaL_pushfail(L);
      lua_pushstring(L, err.msg);
      return 2;
    }
    ntk_threads_set((int)n);
  }
  lua_pushinteger(L, ntk_threads_get());
  return 1;
}

/* blas_core() -> the OpenBLAS core type running now ("SkylakeX", "Prescott", ...), and the best
 * one this CPU supports (nil when it supports none that OpenBLAS could be forced to). */
static int core_blas_core(lua_State *L) {
  const char *supported = ntk_blas_core_supported();
  luaL_argcheck(L, lua_isnone(L, 1), 1, "no arguments expected");
  lua_pushstring(L, ntk_blas_core_loaded());
  if (supported) lua_pushstring(L, supported); else lua_pushnil(L);
  return 2;
}

static int core_metatable(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (luaL_getmetatable(L, lua_pushfstring(L, "ntklab.%s", name)) != LUA_TTABLE)
    return luaL_argerror(L, 1, lua_pushfstring(L, "unknown type '%s'", name));
  return 1;
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Tensors, networks, trainers and kernels: the C engine and its Lua conveniences.
Every function raises on misuse ("bad argument #n to 'f' (what was expected, got what came)") and
returns nil, msg on a failure of the world (a file, memory, a singular system). Indices are
1-based. `ntklab.core` holds the same C functions; `ntklab.output` gathers ntklab.fs, json, csv,
plot, progress and cli; ntklab.io, ntklab.linalg and ntklab.train are sub-tables.
@module ntklab
*/

/*** Threads, BLAS kernels, metatables.
@section core
*/

/*** Sets the BLAS thread count to min(n, the cores this process may run on) and returns the count
in force; without n, only returns it.
@function threads
@int[opt] n n >= 1
@treturn int the thread count in force
@return nil, msg when the OpenBLAS buffers of that many threads (129 MiB each) do not fit under
`ulimit -v`
*/

/*** The OpenBLAS core type running now ("SkylakeX", "Haswell", "Prescott", ...) and the best one
this CPU supports (nil when none could be forced). The ntklab host sets OPENBLAS_CORETYPE to it.
@function blas_core
@treturn string running
@treturn string|nil supported
*/

/*** The metatable of the ntklab type `name` ("tensor", "rng", "mlp", "model", "trainer",
"kernel_regression", "kernel_workspace"), to add methods or test types.
@function metatable
@string name
@treturn table
@raise "unknown type 'x'"
*/

typedef void (*lntk_opener)(lua_State *L);

/* Every concept's registration (lntk.h's list); metatables exist before any object is created. */
#define LNTK_OPENER(name) lntk_open_##name,
static const lntk_opener openers[] = {LNTK_CONCEPTS(LNTK_OPENER) NULL};
#undef LNTK_OPENER

int luaopen_ntklab_core(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"threads", core_threads},
      {"blas_core", core_blas_core},
      {"metatable", core_metatable},
      {NULL, NULL},
  };
  int i;
  luaL_checkversion(L);
  /* OPENBLAS_NUM_THREADS may ask for more threads than cores: each one only adds a buffer */
  if (ntk_threads_get() > ntk_threads_cores()) ntk_threads_set(ntk_threads_cores());
  luaL_newlib(L, funcs);
  lua_pushstring(L, NTK_VERSION);
  lua_setfield(L, -2, "version");
  for (i = 0; openers[i]; i++) openers[i](L);
  return 1;
}
