/* ntklab.c: the host executable. It embeds Lua 5.4 with the ntklab engine linked in
 * (ntklab.core is preloaded, so no C module path is needed) and follows the stock `lua`
 * interpreter (lua.c of Lua 5.4) in its options, its `arg` table and its exit status:
 *   ntklab script.lua [args...]   run a script; arg[0] = script, arg[-k] = what came before,
 *                                 arg[1..n] and `...` = the script's arguments
 *   ntklab -e 'code' / -l mod     run a chunk / require a module into a global (in order)
 *   ntklab -i                     interactive prompt after the script (implies -v)
 *   ntklab -v / -E / -W           version / ignore LUA_* environment / warnings on
 *   ntklab -- / ntklab -          stop handling options / run stdin
 *   ntklab                        prompt when stdin is a terminal, else run stdin
 *   ntklab run FILE [--opt v...]  run an experiment module (ntklab.experiment.main)
 *   ntklab sweep FILE --grid ...  a sweep of runs, and `ntklab sweep merge DIR` (ntklab.sweep.main)
 * The two subcommands are words in the script's place as the first argument; a script that
 * happens to be called run or sweep runs as `ntklab ./run`.
 *
 * Where the project's Lua modules come from is decided by where the running executable is,
 * never by what happens to exist on disk: the binary in its build tree (build/bin) reads the
 * source tree's lua/ (edits need no rebuild); any other copy is an installed one and reads
 * <its prefix>/share/lua/5.4 only, so an install never silently runs code from a source
 * tree that may since have changed or gone. NTKLAB_LUA_DIR overrides both. The directory is
 * put in front of package.path, so a different ntklab elsewhere on LUA_PATH cannot shadow
 * the one matching this engine.
 *
 * Before anything else the host makes sure OpenBLAS runs the kernels this CPU supports: where
 * OpenBLAS fell back to pre-AVX2 kernels on a CPU it does not recognize (ntk_blas_core.h), the
 * host sets OPENBLAS_CORETYPE and re-executes itself once. A user's OPENBLAS_CORETYPE is kept. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifdef NTK_USE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#include "lntk.h"

static const char *progname = "ntklab";
static lua_State *globalL = NULL;

static void print_usage(const char *badoption) {
  if (badoption[1] == 'e' || badoption[1] == 'l')
    fprintf(stderr, "%s: '%s' needs argument\n", progname, badoption);
  else
    fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badoption);
  fprintf(stderr,
          "usage: %s [options] [script [args]]\n"
          "       %s run EXPERIMENT.lua [--option value ...]\n"
          "       %s sweep EXPERIMENT.lua --grid name=v1,v2 [...] | %s sweep merge DIR\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -l g=mod  require library 'mod' into global 'g'\n"
          "  -v        show version information\n"
          "  -E        ignore environment variables\n"
          "  -W        turn warnings on\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n",
          progname, progname, progname, progname);
  fflush(stderr);
}

static void print_version(void) {
  printf("ntklab %s with %s\n", NTK_VERSION, LUA_COPYRIGHT);
  fflush(stdout);
}

/* --- Ctrl-C and SIGTERM: stop the running Lua code at the next hook, as lua.c does -------- */

/* The signal that stopped the code (SIGINT: Ctrl-C; SIGTERM: kill, timeout, a batch system's
 * time limit or scancel), or 0: a subcommand it stopped exits 128 + the signal with one line,
 * not a traceback; a run it stopped leaves failure.json saying so, not silence. */
static volatile sig_atomic_t interrupted = 0;

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, interrupted == SIGTERM ? "terminated (SIGTERM)!" : "interrupted!");
}

/* SIGUSR1: finish the running training at its next record and analyse what it has
 * (lntk_finish.c), instead of stopping it. */
static void lfinish(int sig) {
  /* re-armed: in ISO C mode glibc's signal() resets the action to the default on delivery,
   * and the default action of a second SIGUSR1 would kill the run it asked to finish */
  static const char msg[] = "ntklab: finish requested (SIGUSR1): training stops at its next "
                            "record, then the run analyses what it has\n";
  signal(sig, lfinish);
  lntk_request_finish();
  if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) { /* nothing to do: stderr is gone */
  }
}

static void laction(int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  interrupted = sig;
  signal(sig, SIG_DFL); /* a second signal kills the process */
  lua_sethook(globalL, lstop, flag, 1);
}

/* --- running chunks ------------------------------------------------------------------------ */

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static void l_message(const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    l_message(progname, msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  int status;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  signal(SIGINT, laction);
  signal(SIGTERM, laction);
  signal(SIGUSR1, lfinish);
  status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  lua_remove(L, base);
  return status;
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dofile(lua_State *L, const char *name) { return dochunk(L, luaL_loadfile(L, name)); }

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l [g=]mod: global g (default mod) = require(mod) */
static int dolibrary(lua_State *L, char *globname) {
  int status;
  char *modname = strchr(globname, '=');
  if (modname == NULL) {
    modname = globname;
  } else {
    *modname = '\0';
    modname++;
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1);
  if (status == LUA_OK) lua_setglobal(L, globname);
  return report(L, status);
}

/* The global `arg`, as lua.c builds it: arg[0] = the script, negative indices the
 * interpreter and its options, positive ones the script's arguments. Without a script,
 * arg[0] is the interpreter and every argument is positive. */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int i, narg;
  if (script == argc) script = 0;
  narg = argc - (script + 1);
  if (narg < 0) narg = 0; /* argc == 0: started with an empty argv */
  lua_createtable(L, narg, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int pushargs(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

/* 128 + the signal, as a shell reports a process a signal stopped (130: Ctrl-C) */
#define INTERRUPTED_STATUS(sig) (128 + (sig))

/* The subcommands: a chunk that hands the arguments after the word to the module's main and
 * exits with the status it returns. */
static const char *subcommand(char **argv, int script) {
  if (script != 1) return NULL; /* options before it: a script, as lua.c would run it */
  if (strcmp(argv[1], "run") == 0)
    return "os.exit(require('ntklab.experiment').main({...}), true)";
  if (strcmp(argv[1], "sweep") == 0) return "os.exit(require('ntklab.sweep').main({...}, arg[-1]), true)";
  return NULL;
}

static int handle_script(lua_State *L, char **argv, const char *sub) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
  if (sub)
    status = luaL_loadbuffer(L, sub, strlen(sub), fname);
  else
    status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  if (sub && status != LUA_OK && interrupted) {
    /* wherever the hook struck, the user asked for it: say so, and what is kept */
    lua_pop(L, 1);
    fprintf(stderr, "%s %s: %s (finished runs keep their summary.json; the same command "
            "resumes a sweep)\n", progname, argv[0],
            interrupted == SIGTERM ? "terminated by SIGTERM" : "interrupted");
    fflush(stderr);
    exit(INTERRUPTED_STATUS(interrupted));
  }
  return report(L, status);
}

/* --- options ------------------------------------------------------------------------------ */

#define has_error 1 /* bad option */
#define has_i 2     /* -i */
#define has_v 4     /* -v */
#define has_e 8     /* -e */
#define has_E 16    /* -E */

/* Sets *first to the script's index (argc when none) and returns the option flags; on a bad
 * option returns has_error with *first at the culprit. */
static int collectargs(char **argv, int *first) {
  int args = 0, i;
  if (argv[0] != NULL) {
    for (i = 1; argv[i] != NULL; i++) {
      *first = i;
      if (argv[i][0] != '-') return args; /* not an option: the script */
      switch (argv[i][1]) {
      case '-': /* '--' */
        if (argv[i][2] != '\0') return has_error;
        *first = i + 1;
        return args;
      case '\0': /* '-': stdin is the script */
        return args;
      case 'E':
        if (argv[i][2] != '\0') return has_error;
        args |= has_E;
        break;
      case 'W':
        if (argv[i][2] != '\0') return has_error;
        break;
      case 'i':
        args |= has_i; /* -i implies -v */
        /* fall through */
      case 'v':
        if (argv[i][2] != '\0') return has_error;
        args |= has_v;
        break;
      case 'e':
        args |= has_e;
        /* fall through */
      case 'l': /* both take an argument, glued ("-eX") or separate ("-e X") */
        if (argv[i][2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') return has_error;
        }
        break;
      default:
        return has_error;
      }
    }
    *first = i;
  } else {
    *first = 0;
  }
  return args;
}

/* Runs -e, -l and -W in order; returns 0 when one of them failed. */
static int runargs(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
    case 'e':
    case 'l': {
      int status;
      char *extra = argv[i] + 2;
      if (*extra == '\0') extra = argv[++i];
      status = (option == 'e') ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
      break;
    }
    case 'W':
      lua_warning(L, "@on", 0);
      break;
    }
  }
  return 1;
}

static int handle_luainit(lua_State *L) {
  const char *name = "=LUA_INIT_5_4";
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dofile(L, init + 1);
  return dostring(L, init, name);
}

/* --- where the project's Lua modules are ---------------------------------------------------- */

/* Canonical directory of the running executable (Linux /proc); 0 when unknown. */
static int exe_dir(char *buf, size_t len) {
  char link[PATH_MAX];
  char *slash;
  ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
  if (n <= 0) return 0;
  link[n] = '\0';
  slash = strrchr(link, '/');
  if (!slash) return 0;
  *slash = '\0';
  if (strlen(link) >= len) return 0;
  strcpy(buf, link);
  return 1;
}

/* Fills dir with the module directory (see the head comment); 0 when none applies. */
static int module_dir(char *dir, size_t len) {
  char exe[PATH_MAX], build[PATH_MAX];
  const char *env = getenv("NTKLAB_LUA_DIR");
  if (env && *env) return snprintf(dir, len, "%s", env) < (int)len;
  if (!exe_dir(exe, sizeof exe)) return 0;
#if defined(NTK_BUILD_BIN_DIR) && defined(NTK_SOURCE_LUA_DIR)
  if (realpath(NTK_BUILD_BIN_DIR, build) && strcmp(build, exe) == 0)
    return snprintf(dir, len, "%s", NTK_SOURCE_LUA_DIR) < (int)len;
#else
  (void)build;
#endif
  return snprintf(dir, len, "%s/%s", exe, NTK_INSTALL_LUA_REL) < (int)len;
}

static void set_module_path(lua_State *L) {
  char dir[PATH_MAX];
  if (!module_dir(dir, sizeof dir)) return;
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

/* --- the interactive prompt ------------------------------------------------------------------ */

/* Line editing and history on a terminal, when built with readline; plain reads otherwise
 * (and always for pipes, so that piped input is not echoed back). */
static int use_readline = 0;

/* Pushes the next line of stdin without its newline; returns 0 at end of input.
 * Lines of any length: fgets fills the buffer piecewise. */
static int pushline(lua_State *L, int firstline) {
  char piece[512];
  luaL_Buffer b;
  int got = 0;
  const char *prompt = firstline ? "> " : ">> ";
#ifdef NTK_USE_READLINE
  if (use_readline) {
    char *line = readline(prompt);
    if (line == NULL) return 0;
    lua_pushstring(L, line);
    free(line);
    return 1;
  }
#endif
  fputs(prompt, stdout);
  fflush(stdout);
  luaL_buffinit(L, &b);
  while (fgets(piece, sizeof piece, stdin)) {
    size_t n = strlen(piece);
    got = 1;
    if (n > 0 && piece[n - 1] == '\n') {
      luaL_addlstring(&b, piece, n - 1);
      break;
    }
    luaL_addlstring(&b, piece, n);
  }
  luaL_pushresult(&b);
  if (!got) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* 1 when status is a syntax error at end of input: the chunk is incomplete, read more. */
static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    const char *eof = "<eof>";
    size_t leof = strlen(eof);
    if (lmsg >= leof && strcmp(msg + lmsg - leof, eof) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* The line on top compiled as "return <line>", so that expressions print their value. */
static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK)
    lua_remove(L, -2); /* the modified line */
  else
    lua_pop(L, 2); /* the error message and the modified line */
  return status;
}

/* Reads lines until the chunk on top compiles or fails for a reason other than its end. */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    if (!incomplete(L, status) || !pushline(L, 0)) return status;
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3); /* chunk .. "\n" .. line */
  }
}

/* Loads one complete statement or expression; returns -1 at end of input. */
static int loadline(lua_State *L) {
  int status;
  lua_settop(L, 0);
  if (!pushline(L, 1)) return -1;
  if ((status = addreturn(L)) != LUA_OK) status = multiline(L);
#ifdef NTK_USE_READLINE
  if (use_readline && lua_rawlen(L, 1) > 0) add_history(lua_tostring(L, 1));
#endif
  lua_remove(L, 1); /* the source text; the function (or error) stays */
  return status;
}

static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
  }
}

static void doREPL(lua_State *L) {
  int status;
  const char *oldprogname = progname;
  progname = NULL; /* errors at the prompt are not prefixed with the program name */
  use_readline = isatty(0);
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      l_print(L);
    else
      report(L, status);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  progname = oldprogname;
}

/* --- main ---------------------------------------------------------------------------------- */

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script;
  int args = collectargs(argv, &script);
  luaL_checkversion(L);
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (args == has_error) {
    print_usage(argv[script]);
    return 0;
  }
  if (args & has_v) print_version();
  if (args & has_E) {
    /* tells luaopen_package to ignore LUA_PATH / LUA_CPATH */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_ntklab_core);
  lua_setfield(L, -2, "ntklab.core");
  lua_pop(L, 1);
  set_module_path(L);
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (!(args & has_E) && handle_luainit(L) != LUA_OK) return 0;
  if (!runargs(L, argv, script)) return 0;
  if (script < argc && handle_script(L, argv + script, subcommand(argv, script)) != LUA_OK) return 0;
  if (args & has_i) {
    doREPL(L);
  } else if (script == argc && !(args & (has_e | has_v))) {
    if (isatty(0)) {
      print_version();
      doREPL(L);
    } else {
      if (dofile(L, NULL) != LUA_OK) return 0;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* OpenBLAS chose its kernels when it loaded, before main: with a better core type to ask for,
 * run this program again with it set (the variable stops a second round). If the re-execution
 * fails, go on with the kernels loaded: slower, never wrong. */
static void use_the_cpus_blas_kernels(char **argv) {
  const char *core = ntk_blas_core_advice();
  if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
  execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
  int status, result;
  lua_State *L;
  use_the_cpus_blas_kernels(argv);
  L = luaL_newstate();
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (L == NULL) {
    l_message(progname, "cannot create state: not enough memory");
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
