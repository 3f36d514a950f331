#!/usr/bin/env bash
# spec/stock_lua_test.sh BUILD_DIR SOURCE_DIR: the modules load in the stock lua5.4 interpreter
# through the environment README documents (eval "$(scripts/env)"), from any directory, and
# the module spec passes there too. Run by ctest as test "stock_lua".
#   NTK_TEST_LUA_PRELOAD: the ASan runtime in the sanitizer build (lua5.4 is not instrumented).
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
eval "$(NTKLAB_BUILD=$build "$source/scripts/env")"
if [ -n "${NTK_TEST_LUA_PRELOAD:-}" ]; then export LD_PRELOAD=$NTK_TEST_LUA_PRELOAD; fi
cd /
out=$(lua5.4 -e '
local ntklab = require "ntklab"
local m = ntklab.tensor{{1, 2}, {3, 4}}
print(ntklab.version, m:t():get(1, 2), package.searchpath("ntklab", package.path),
      package.searchpath("ntklab.core", package.cpath))')
expected="$(sed -n 's/#define NTK_VERSION "\(.*\)"/\1/p' "$source/core/ntk.h")	3.0	$source/lua/ntklab/init.lua	$build/ntklab/core.so"
if [ "$out" != "$expected" ]; then
  echo "stock lua5.4 printed:  $out"
  echo "expected:              $expected"
  exit 1
fi
# the globals check of spec/00 under the stock interpreter rather than the host
cd "$source"
lua5.4 /usr/bin/busted --no-auto-insulate -o utfTerminal spec/00-module_spec.lua
echo "stock lua5.4 loads ntklab from $build"
