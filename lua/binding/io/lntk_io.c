/* lntk_io.c: ntklab.io, array files: read_idx/write_idx, read_cifar10/write_cifar10,
 * read_npy/write_npy, read_csv. Bad arguments raise; files that cannot be read or written
 * return nil, "path: what is wrong". */
#include <string.h>

#include "lntk.h"

static const char *const idx_type_names[] = {"ubyte", "byte", "short", "int", "float", "double",
                                             NULL};
static const int idx_type_codes[] = {NTK_IDX_UBYTE, NTK_IDX_SBYTE, NTK_IDX_SHORT,
                                     NTK_IDX_INT,   NTK_IDX_FLOAT, NTK_IDX_DOUBLE};
static const char *const npy_dtype_names[] = {"f8", "f4", "u1", NULL};

/* The result of a core io call: misuse raises at the Lua position pos maps it to, a failure of
 * the world (a missing, unreadable or malformed file, memory) returns nil, "path: what". */
#define io_fail(L, path, err, pos) lntk_result_at((L), (err), (pos), (path))
/* core readers (t..., path): anything they blame is the path, Lua argument 1 */
#define READ_ARGS LNTK_ARGS(1, 1, 1, 1)

static void push_dims(lua_State *L, const ntk_io_shape *s) {
  int k;
  lua_createtable(L, s->ndim, 0);
  for (k = 0; k < s->ndim; k++) {
    lua_pushinteger(L, (lua_Integer)s->dims[k]);
    lua_rawseti(L, -2, k + 1);
  }
}

/* out[0..n) <- the integers of the list at stack slot idx (option `key` of the table at Lua
 * argument tbl), each at least `least`, minus `least` (so rows counted from 1 come out 0-based,
 * dimensions counted from 0 unchanged); n is the list's length, checked by the caller. */
static void check_integers(lua_State *L, int tbl, int idx, const char *key, lua_Integer least,
                           size_t *out, lua_Integer n) {
  lua_Integer k;
  for (k = 1; k <= n; k++) {
    int isnum;
    lua_Integer v;
    lua_rawgeti(L, idx, k);
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum || v < least)
      lntk_opterror(L, tbl, key, lua_pushfstring(L, "%s integer expected at [%I], got %s",
                                                 least > 0 ? "positive" : "non-negative", k,
                                                 luaL_tolstring(L, -1, NULL)));
    out[k - 1] = (size_t)(v - least);
    lua_pop(L, 1);
  }
}

/* s <- the list of dimensions at stack slot idx (option 'dims' of the table at Lua argument tbl). */
static void check_dims(lua_State *L, int tbl, int idx, ntk_io_shape *s) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n < 1 || n > NTK_IO_MAX_DIMS)
    lntk_opterror(L, tbl, "dims", lua_pushfstring(L, "1 to %d dimensions expected, got %I",
                                                  NTK_IO_MAX_DIMS, n));
  s->ndim = (int)n;
  check_integers(L, tbl, idx, "dims", 0, s->dims, n);
}

/* A core reader of a file that declares its dimensions and element type (IDX, NPY). */
typedef int (*shaped_reader)(ntk_tensor *t, ntk_io_shape *shape, int *type, const char *path,
                             ntk_error *err);

/* The first half of read_idx and read_npy: reads the file at Lua argument 1 with read, pushes
 * the tensor and a table holding the declared dimensions at dims_key, and sets *type. Returns
 * 0 then; on failure, the number of results io_fail pushed (nil, msg), for the caller to return. */
static int read_shaped(lua_State *L, shaped_reader read, const char *dims_key, int *type) {
  const char *path = lntk_checkpath(L, 1);
  ntk_io_shape s;
  ntk_error err;
  ntk_tensor *t;
  lua_settop(L, 1);
  t = lntk_pushtensor(L);
  if (read(t, &s, type, path, &err) != NTK_OK) return io_fail(L, path, &err, READ_ARGS);
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  lua_createtable(L, 0, 2);
  push_dims(L, &s);
  lua_setfield(L, -2, dims_key);
  return 0;
}

/* The option 'rows' of the table at Lua argument tbl (a list of 1-based row numbers, in the
 * order wanted) as 0-based indices in a userdata block pushed on the stack (Lua owns it, so a
 * raise leaks nothing); *n <- their count. */
static size_t *check_rows(lua_State *L, int tbl, int idx, size_t *n) {
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  size_t *rows = lua_newuserdatauv(L, (len > 0 ? (size_t)len : 1) * sizeof *rows, 0);
  check_integers(L, tbl, idx, "rows", 1, rows, len);
  *n = (size_t)len;
  return rows;
}

/* read_idx(path [, {rows = {i, ...}}]) -> tensor, {dims = {...}, type = "ubyte"} | nil, msg.
 * rows: only those rows (1-based), in that order; dims stays the file's declared shape. */
static int io_read_idx(lua_State *L) {
  static const lntk_option options[] = {
      LNTK_OPT("rows", LNTK_OPT_TABLE),
      LNTK_OPT_END,
  };
  const char *path = lntk_checkpath(L, 1);
  lntk_optval o[1];
  ntk_io_shape s;
  ntk_error err;
  ntk_tensor *t;
  size_t *rows = NULL, nrows = 0;
  int type, k;
  lntk_options(L, 2, options, o);
  if (o[0].present) rows = check_rows(L, 2, o[0].idx, &nrows); /* a userdata on the stack owns them */
  t = lntk_pushtensor(L);
  /* core (t, shape, type, path, rows, nrows): the path is argument 1, the rows option 2 */
  if (ntk_io_read_idx_rows(t, &s, &type, path, rows, nrows, &err) != NTK_OK)
    return io_fail(L, path, &err, LNTK_ARGS(1, 1, 1, 1, 2, 2));
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  lua_createtable(L, 0, 2);
  push_dims(L, &s);
  lua_setfield(L, -2, "dims");
  for (k = 0; idx_type_names[k]; k++)
    if (idx_type_codes[k] == type) lua_pushstring(L, idx_type_names[k]);
  lua_setfield(L, -2, "type");
  return 2;
}

/* write_idx(path, tensor [, {type = "double", dims = {...}}]) -> true | nil, msg */
static int io_write_idx(lua_State *L) {
  static const lntk_option options[] = {
      LNTK_OPT("type", LNTK_OPT_CHOICE, .def = 5, .choices = idx_type_names),
      LNTK_OPT("dims", LNTK_OPT_TABLE),
      LNTK_OPT_END,
  };
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *t = lntk_checktensor(L, 2);
  lntk_optval o[2];
  ntk_io_shape s;
  ntk_error err;
  lntk_options(L, 3, options, o);
  if (o[1].present) check_dims(L, 3, o[1].idx, &s);
  /* core (path, t, dims, type) */
  if (ntk_io_write_idx(path, t, o[1].present ? &s : NULL, idx_type_codes[o[0].choice], &err) !=
      NTK_OK)
    return io_fail(L, path, &err, LNTK_ARGS(1, 2, 3, 3));
  lua_pushboolean(L, 1);
  return 1;
}

/* read_cifar10(path) -> images [N x 3072], labels [N] | nil, msg */
static int io_read_cifar10(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *x, *y;
  ntk_error err;
  lua_settop(L, 1);
  x = lntk_pushtensor(L);
  y = lntk_pushtensor(L);
  if (ntk_io_read_cifar10(x, y, path, &err) != NTK_OK) return io_fail(L, path, &err, READ_ARGS);
  lntk_gcstep(L, ntk_tensor_numel(x) * sizeof(double));
  return 2;
}

/* write_cifar10(path, images, labels) -> true | nil, msg */
static int io_write_cifar10(lua_State *L) {
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *x = lntk_checktensor(L, 2), *y = lntk_checktensor(L, 3);
  ntk_error err;
  /* core (path, images, labels): the Lua order */
  if (ntk_io_write_cifar10(path, x, y, &err) != NTK_OK) return io_fail(L, path, &err, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* read_npy(path) -> tensor, {shape = {...}, dtype = "f8"} | nil, msg */
static int io_read_npy(lua_State *L) {
  int dtype, failed = read_shaped(L, ntk_io_read_npy, "shape", &dtype);
  if (failed) return failed;
  lua_pushstring(L, npy_dtype_names[dtype]);
  lua_setfield(L, -2, "dtype");
  return 2;
}

/* write_npy(path, tensor [, {dtype = "f8"}]) -> true | nil, msg */
static int io_write_npy(lua_State *L) {
  static const lntk_option options[] = {
      LNTK_OPT("dtype", LNTK_OPT_CHOICE, .choices = npy_dtype_names), LNTK_OPT_END,
  };
  const char *path = lntk_checkpath(L, 1);
  ntk_tensor *t = lntk_checktensor(L, 2);
  lntk_optval dtype;
  ntk_error err;
  lntk_options(L, 3, options, &dtype);
  /* core (path, t, dtype): the Lua order, dtype in the options */
  if (ntk_io_write_npy(path, t, dtype.choice, &err) != NTK_OK)
    return io_fail(L, path, &err, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* read_csv(path [, {delimiter = ",", header = false}]) -> tensor [rows x cols] | nil, msg */
static int io_read_csv(lua_State *L) {
  static const lntk_option options[] = {
      LNTK_OPT("delimiter", LNTK_OPT_STRING), LNTK_OPT("header", LNTK_OPT_BOOLEAN), LNTK_OPT_END,
  };
  const char *path = lntk_checkpath(L, 1);
  lntk_optval o[2];
  char delim = ',';
  ntk_error err;
  ntk_tensor *t;
  lua_settop(L, 2);
  lntk_options(L, 2, options, o);
  if (o[0].present) {
    size_t n;
    lua_getfield(L, 2, "delimiter");
    lua_tolstring(L, -1, &n);
    lua_pop(L, 1);
    if (n != 1) luaL_argerror(L, 2, "option 'delimiter': one-character string expected");
    delim = o[0].str[0];
  }
  t = lntk_pushtensor(L);
  /* core (t, path, delimiter, header): the last two live in the options, Lua argument 2 */
  if (ntk_io_read_csv(t, path, delim, o[1].boolean, &err) != NTK_OK)
    return io_fail(L, path, &err, LNTK_ARGS(0, 1, 2, 2));
  lntk_gcstep(L, ntk_tensor_numel(t) * sizeof(double));
  return 1;
}

void lntk_open_io(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"read_idx", io_read_idx},         {"write_idx", io_write_idx},
      {"read_cifar10", io_read_cifar10}, {"write_cifar10", io_write_cifar10},
      {"read_npy", io_read_npy},         {"write_npy", io_write_npy},
      {"read_csv", io_read_csv},         {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "io");
}

/* ---- Lua reference (LDoc, through scripts/api-docs) ---- */

/*** Array files: IDX (plain or gzip), CIFAR-10 binary batches, NPY and numeric CSV. Bad
arguments raise; a file that cannot be read or written returns nil, "path: what is wrong". Only
regular files are read; writers replace files atomically, with mode 0666 & ~umask.
@module ntklab.io
*/

/*** Reads an IDX file (MNIST's format; gzip when it ends in .gz or starts with gzip's magic).
With `rows`, only those rows become doubles: a two-class pick of 60,000 images costs its own rows'
memory, not the whole file's.
@function read_idx
@string path
@tparam[opt] table opts
@options io_read_idx
@opt rows the 1-based rows to keep, in that order (repeats allowed); {} reads the header only
@treturn tensor 1-D for one dimension, else [dims[1] x product of the rest] (rows: [#rows x ...])
@treturn table {dims = {...} (the file's declared dimensions), type = "ubyte" | ...}
@return nil, "path: what is wrong"
*/

/*** Writes a tensor as an IDX file, atomically.
@function write_idx
@string path
@tparam tensor t
@tparam[opt] table opts
@options io_write_idx
@opt type the element type written
@opt dims the dimensions recorded in the header (their product is t's element count); default t's shape
@treturn bool true
@return nil, "path: what is wrong"
*/

/*** Reads a CIFAR-10 binary batch.
@function read_cifar10
@string path
@treturn tensor images [N x 3072] (the red, green, blue 32 x 32 planes; values 0..255)
@treturn tensor labels [N], 0..9
@return nil, "path: what is wrong"
*/

/*** Writes a CIFAR-10 binary batch, atomically.
@function write_cifar10
@string path
@tparam tensor images [N x 3072], values in 0..255
@tparam tensor labels [N], 0..9
@treturn bool true
@return nil, "path: what is wrong"
*/

/*** Reads an NPY file (<f8, <f4 or |u1, C order).
@function read_npy
@string path
@treturn tensor
@treturn table {shape = {...}, dtype = "f8" | "f4" | "u1"}
@return nil, "path: what is wrong"
*/

/*** Writes a tensor as an NPY file, atomically.
@function write_npy
@string path
@tparam tensor t
@tparam[opt] table opts
@options io_write_npy
@opt dtype the element type written
@treturn bool true
@return nil, "path: what is wrong"
*/

/*** Reads a numeric CSV file (at most 2^30 bytes).
@function read_csv
@string path
@tparam[opt] table opts
@options io_read_csv
@opt delimiter one character (default ",")
@opt header skip the first line
@treturn tensor [rows x cols]
@return nil, "path: what is wrong"
*/
