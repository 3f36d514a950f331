#!/usr/bin/env bash
# spec/install_test.sh BUILD_DIR SOURCE_DIR: installs the build into a temporary prefix and
# checks what C and Lua users get there: the libraries, headers and pkg-config files (a C
# program builds against them, and so does README's embedding example), the Lua modules and
# C module (stock lua5.4 loads them), and the host (it runs from another directory, using the
# installed modules and nothing from the source tree). Run by ctest as test "install".
#   NTK_TEST_CFLAGS: extra flags for compiling against the install (the sanitizer build
#   passes -fsanitize=..., which whoever links an instrumented library needs too);
#   CC: the compiler (ctest passes the one CMake uses).
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
cflags=${NTK_TEST_CFLAGS:-}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
check_file() { [ -e "$prefix/$1" ] || fail "not installed: $1"; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }

# --- the files, where C and Lua users expect them ------------------------------------------
for f in lib/libntk.a lib/libntk.so lib/libntklab-lua.a lib/pkgconfig/ntk.pc lib/pkgconfig/ntklab.pc \
         include/ntklab/ntk.h include/ntklab/lntk.h share/lua/5.4/ntklab/init.lua \
         lib/lua/5.4/ntklab/core.so bin/ntklab; do
  check_file "$f"
done
for h in "$source"/core/*.h "$source"/core/{base,tensor,nn,train,kernel,io}/*.h; do check_file "include/ntklab/$(basename "$h")"; done
for m in "$source"/lua/ntklab/*.lua; do check_file "share/lua/5.4/ntklab/$(basename "$m")"; done

# --- pkg-config and a C program using the core --------------------------------------------
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pkg-config --exists ntk || fail "pkg-config does not find ntk"
[ "$(pkg-config --modversion ntk)" = "$(sed -n 's/#define NTK_VERSION "\(.*\)"/\1/p' "$source/core/ntk.h")" ] \
  || fail "ntk.pc version differs from NTK_VERSION"
cat >"$tmp/use_core.c" <<'C'
#include <stdio.h>
#include "ntk.h"
int main(void) {
  ntk_tensor t = {0};
  ntk_error err;
  ntk_rng rng;
  if (ntk_tensor_init_2d(&t, 2, 2, &err) != NTK_OK) return 1;
  ntk_rng_seed(&rng, 7);
  ntk_rng_fill_uniform(&rng, &t, 0.0, 1.0);
  printf("%d %s\n", ntk_tensor_at(&t, 1, 1) >= 0.0 && ntk_tensor_at(&t, 1, 1) < 1.0, NTK_VERSION);
  ntk_tensor_release(&t);
  return 0;
}
C
# shellcheck disable=SC2046,SC2086
if "$cc" $cflags -o "$tmp/use_core_shared" "$tmp/use_core.c" $(pkg-config --cflags --libs ntk); then
  out=$(LD_LIBRARY_PATH=$prefix/lib "$tmp/use_core_shared") || fail "shared-linked program failed"
  [ "$out" = "1 $(pkg-config --modversion ntk)" ] || fail "shared-linked program printed '$out'"
else
  fail "cannot link a C program with \$(pkg-config --cflags --libs ntk)"
fi
static_libs=$(pkg-config --static --libs ntk)
# shellcheck disable=SC2046,SC2086
if "$cc" $cflags -o "$tmp/use_core_static" "$tmp/use_core.c" $(pkg-config --cflags ntk) ${static_libs//-lntk/-l:libntk.a}; then
  ldd "$tmp/use_core_static" | grep -q 'libntk\.so' && fail "static link still needs libntk.so"
  out=$("$tmp/use_core_static") || fail "static-linked program failed"
  [ "${out%% *}" = 1 ] || fail "static-linked program printed '$out'"
else
  fail "cannot link a C program statically with \$(pkg-config --static --libs ntk)"
fi

# --- README's embedding example, compiled exactly as README says ---------------------------
sed -n '/^## Embedding in a C program/,/^## /p' "$source/README.md" |
  sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$tmp/host.c"
[ -s "$tmp/host.c" ] || fail "README has no \`\`\`c block under 'Embedding in a C program'"
# shellcheck disable=SC2046,SC2086
if "$cc" $cflags -o "$tmp/host" "$tmp/host.c" $(pkg-config --cflags --libs ntklab); then
  out=$(cd "$tmp" && LD_LIBRARY_PATH=$prefix/lib LUA_PATH_5_4="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua" \
        "$tmp/host") || fail "README example failed: $out"
  # the example prints the same draw from C and from Lua (same seed, same numbers)
  c_value=$(sed -n 's/^C:   //p' <<<"$out")
  lua_value=$(sed -n 's/^Lua: //p' <<<"$out")
  [ -n "$c_value" ] && [ "$c_value" = "$lua_value" ] || fail "README example printed: $out"
else
  fail "README example does not build with \$(pkg-config --cflags --libs ntklab)"
fi

# --- the installed host: any directory, installed modules only -----------------------------
cat >"$tmp/script.lua" <<'LUA'
local ntklab = require "ntklab"
print(ntklab.zeros(3, 4):numel(), package.searchpath("ntklab", package.path))
LUA
mkdir -p "$tmp/elsewhere"
out=$(cd "$tmp/elsewhere" && "$prefix/bin/ntklab" ../script.lua) || fail "installed host failed: $out"
[ "$out" = "12	$prefix/bin/../share/lua/5.4/ntklab/init.lua" ] || fail "installed host printed '$out'"
# without its installed modules the installed host must fail, not fall back to the source tree
mv "$prefix/share/lua/5.4/ntklab" "$tmp/moved"
if out=$(cd "$tmp/elsewhere" && "$prefix/bin/ntklab" ../script.lua 2>&1); then
  fail "installed host ran without its installed modules: $out"
fi
grep -q "$source" <<<"$out" && fail "installed host looked into the source tree: $out"
mv "$tmp/moved" "$prefix/share/lua/5.4/ntklab"

# --- stock lua5.4 with LUA_PATH/LUA_CPATH pointing at the install --------------------------
out=$(cd "$tmp/elsewhere" && env LUA_PATH_5_4="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua;;" \
      LUA_CPATH_5_4="$prefix/lib/lua/5.4/?.so;;" ${NTK_TEST_LUA_PRELOAD:+LD_PRELOAD=$NTK_TEST_LUA_PRELOAD} \
      lua5.4 -e 'local n = require "ntklab"
print(n.rng(1):normal(2, 2):numel(), package.searchpath("ntklab", package.path),
      package.searchpath("ntklab.core", package.cpath))') || fail "stock lua5.4 failed: $out"
[ "$out" = "4	$prefix/share/lua/5.4/ntklab/init.lua	$prefix/lib/lua/5.4/ntklab/core.so" ] \
  || fail "stock lua5.4 printed '$out'"

if [ "$fails" -gt 0 ]; then
  echo "install test: $fails failure(s)"
  exit 1
fi
echo "install test: all checks passed"
