#!/usr/bin/env bash
# spec/rock_test.sh SOURCE_DIR: `luarocks make` builds the rockspec from a copy of the checkout
# into a temporary tree, and stock lua5.4 loads the result through `luarocks path`.
# Run by ctest as test "luarocks" (release build only: the rock is built without sanitizers).
set -euo pipefail
source=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
# a copy, so that the rock's build directory (build.luarocks) never lands in the checkout
tar -C "$source" --exclude='./build*' --exclude=./.git --exclude=./results --exclude=./data -cf - . | tar -C "$tmp/src" -xf -
rockspec=$(cd "$tmp/src" && ls ./*.rockspec)
if ! (cd "$tmp/src" && HOME=$tmp CMAKE_BUILD_PARALLEL_LEVEL=2 \
      luarocks --lua-version 5.4 make --tree "$tmp/tree" "$rockspec") >"$tmp/make.log" 2>&1; then
  cat "$tmp/make.log"
  echo "luarocks make failed"
  exit 1
fi
eval "$(luarocks --lua-version 5.4 path --tree "$tmp/tree")"
cd "$tmp"
out=$(lua5.4 -e '
local ntklab = require "ntklab"
print(ntklab.version, ntklab.zeros(2, 5):numel(), package.searchpath("ntklab", package.path),
      package.searchpath("ntklab.core", package.cpath))')
version=$(sed -n 's/#define NTK_VERSION "\(.*\)"/\1/p' "$source/core/ntk.h")
expected="$version	10	$tmp/tree/share/lua/5.4/ntklab/init.lua	$tmp/tree/lib/lua/5.4/ntklab/core.so"
if [ "$out" != "$expected" ]; then
  echo "lua5.4 with the rock printed: $out"
  echo "expected:                     $expected"
  exit 1
fi
# the rock's version is the library's
case "$rockspec" in
  *"ntklab-$version-"*.rockspec) ;;
  *) echo "rockspec $rockspec does not match NTK_VERSION $version"; exit 1 ;;
esac
echo "luarocks make: ntklab $version builds and loads"
