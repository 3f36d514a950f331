-- LuaRocks: `luarocks --lua-version 5.4 make` in a checkout builds ntklab/core.so with CMake
-- and installs it with the Lua modules (ntklab, ntklab.*) into the rocks tree. The C
-- dependencies (OpenBLAS, LAPACKE, zlib; see scripts/setup) come from the system.
rockspec_format = "3.0"
package = "ntklab"
version = "0.1.0-1"
source = {
  url = "git+file://.", -- no published repository yet: build from a checkout with `luarocks make`
}
description = {
  summary = "Neural tangent kernels, networks and training: a C11 core scripted in Lua 5.4",
  detailed = [[
ntklab trains neural networks, assembles their empirical neural tangent kernels and measures
kernel-task alignment, reproducing "Neural Networks as Kernel Learners: The Silent Alignment
Effect" (Atanasov, Bordelon, Pehlevan, ICLR 2022).]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    NTK_INSTALL_LUA_ONLY = "ON",
    NTK_BUILD_TESTS = "OFF",
    NTK_INSTALL_LUADIR = "$(LUADIR)",
    NTK_INSTALL_CMODDIR = "$(LIBDIR)",
  },
}
