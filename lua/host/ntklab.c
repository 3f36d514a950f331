/* ntklab.c: the host executable. It embeds Lua 5.4 with the ntklab engine linked in
 * (ntklab.core is preloaded, so no C module path is needed) and behaves like the stock `lua`
 * interpreter for the usual cases:
 *   ntklab script.lua [args...]   run a script; arg is set as lua sets it
 *   ntklab -e 'code' [...]        run a chunk (may be repeated, before a script)
 *   ntklab -i                     interactive prompt after the script
 *   ntklab                        interactive prompt (stdin a terminal), else run stdin
 *   ntklab -                      run stdin
 * The project's Lua modules are found next to the executable when installed
 * (<prefix>/bin/ntklab -> <prefix>/share/lua/5.4), else in the source tree it was built from. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "ntk.h"

int luaopen_ntklab_core(lua_State *L);

static const char *progname = "ntklab";

static void usage(void) {
  fprintf(stderr,
          "usage: %s [options] [script [args]]\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -v        show version information\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n",
          progname);
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

/* Directory of the running executable, from /proc/self/exe (Linux). */
static int exe_dir(char *buf, size_t len) {
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  char *slash;
  if (n <= 0) return 0;
  buf[n] = '\0';
  slash = strrchr(buf, '/');
  if (!slash) return 0;
  *slash = '\0';
  return 1;
}

/* Prepends the project's Lua module directory to package.path. */
static void set_module_path(lua_State *L) {
  char dir[PATH_MAX], cand[PATH_MAX + 64];
  const char *luadir = NULL;
  const char *env = getenv("NTKLAB_LUA_DIR");
  if (env && *env) {
    luadir = env;
  } else if (exe_dir(dir, sizeof dir)) {
    snprintf(cand, sizeof cand, "%s/../share/lua/5.4/ntklab/init.lua", dir);
    if (file_exists(cand)) {
      snprintf(cand, sizeof cand, "%s/../share/lua/5.4", dir);
      luadir = cand;
    }
  }
#ifdef NTK_SOURCE_LUA_DIR
  if (!luadir) luadir = NTK_SOURCE_LUA_DIR;
#endif
  if (!luadir) return;
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", luadir, luadir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  int status;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  return status;
}

static int dostring(lua_State *L, const char *s, const char *name) {
  int status = luaL_loadbuffer(L, s, strlen(s), name);
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

/* Builds the global `arg` as lua.c does: arg[0] = script, arg[-k] = options before it. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  int i;
  lua_createtable(L, argc - script, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *fname = argv[script];
  int status, n, i;
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL;
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    n = argc - script - 1;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (i = 1; i <= n; i++) lua_pushstring(L, argv[script + i]);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

/* A small read-eval-print loop: tries "return <line>" first so expressions print,
 * and keeps reading lines while the chunk is incomplete. */
static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= 5 && strcmp(msg + lmsg - 5, "<eof>") == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

static void repl(lua_State *L) {
  char line[4096];
  luaL_Buffer chunk;
  printf("ntklab %s (Lua %s.%s) -- ntklab.* is loaded as `ntklab`\n", NTK_VERSION, LUA_VERSION_MAJOR,
         LUA_VERSION_MINOR);
  for (;;) {
    int status, first = 1;
    lua_settop(L, 0);
    luaL_buffinit(L, &chunk);
    for (;;) {
      fputs(first ? "> " : ">> ", stdout);
      fflush(stdout);
      if (!fgets(line, sizeof line, stdin)) {
        fputs("\n", stdout);
        return;
      }
      luaL_addstring(&chunk, line);
      luaL_pushresult(&chunk); /* chunk text is now on the stack top */
      if (first) {
        const char *ret = lua_pushfstring(L, "return %s", lua_tostring(L, -1));
        status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
        lua_remove(L, -2); /* drop the "return ..." string */
        if (status == LUA_OK) break;
        lua_pop(L, 1);
      }
      status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
      if (!incomplete(L, status)) break;
      /* incomplete: keep the text and read more */
      {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        char *copy = malloc(len + 1);
        if (!copy) return;
        memcpy(copy, s, len + 1);
        lua_pop(L, 1);
        luaL_buffinit(L, &chunk);
        luaL_addlstring(&chunk, copy, len);
        free(copy);
      }
      first = 0;
    }
    lua_remove(L, -2); /* the chunk text; the loaded function stays */
    if (status == LUA_OK) {
      int base = lua_gettop(L) - 1;
      status = docall(L, 0, LUA_MULTRET);
      if (status == LUA_OK && lua_gettop(L) > base) {
        int n = lua_gettop(L) - base;
        lua_getglobal(L, "print");
        lua_insert(L, base + 1);
        if (lua_pcall(L, n, 0, 0) != LUA_OK) report(L, LUA_ERRRUN);
      }
    }
    report(L, status);
  }
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script = 0, interactive = 0, ran_e = 0, i;
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_ntklab_core);
  lua_setfield(L, -2, "ntklab.core");
  lua_pop(L, 1);
  set_module_path(L);
  /* first pass: validate options and find the script */
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      script = i;
      break;
    }
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) script = i + 1;
      break;
    }
    if (strcmp(a, "-e") == 0) {
      if (++i >= argc) {
        fprintf(stderr, "%s: '-e' needs argument\n", progname);
        usage();
        lua_pushboolean(L, 0);
        return 1;
      }
    } else if (strcmp(a, "-i") == 0) {
      interactive = 1;
    } else if (strcmp(a, "-v") == 0) {
      printf("ntklab %s, %s\n", NTK_VERSION, LUA_RELEASE);
    } else {
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
      usage();
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  if (script) {
    create_arg_table(L, argv, argc, script);
  } else {
    /* with no script, arg holds all the arguments after arg[0] = progname */
    lua_createtable(L, argc, 1);
    for (i = 0; i < argc; i++) {
      lua_pushstring(L, argv[i]);
      lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
  }
  /* second pass: run -e chunks in order */
  for (i = 1; i < (script ? script : argc); i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-e") == 0) {
      ran_e = 1;
      if (dostring(L, argv[++i], "=(command line)") != LUA_OK) {
        lua_pushboolean(L, 0);
        return 1;
      }
    }
  }
  if (script) {
    if (run_script(L, argv, argc, script) != LUA_OK) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  if (interactive) {
    repl(L);
  } else if (!script && !ran_e) {
    if (isatty(0)) {
      repl(L);
    } else {
      if (report(L, luaL_loadfile(L, NULL) == LUA_OK ? docall(L, 0, 0) : LUA_ERRFILE) != LUA_OK) {
        lua_pushboolean(L, 0);
        return 1;
      }
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  int status, result;
  lua_State *L = luaL_newstate();
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (!L) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  result = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
