/* lntk_io_mmap.h: what the bindings of tiled kernels share (lntk_io_mmap.c, lntk_tile_matvec.c). */
#ifndef LNTK_IO_MMAP_H
#define LNTK_IO_MMAP_H

#include <stddef.h>

#include "lntk.h"

/* The tiles' paths and row counts from the Lua lists at paths_idx and rows_idx (tables of the
 * same non-zero length: strings without NUL bytes, integers >= 1), in buffers pushed on the stack
 * (they live as long as the frame; the strings are anchored by the table). Raises a bad-argument
 * error naming the list otherwise. Returns the count. */
size_t lntk_io_tile_lists(lua_State *L, int paths_idx, int rows_idx, const char ***paths,
                          size_t **rows);

#endif
