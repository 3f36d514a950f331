/* ntk_error.h: status codes and the error record every fallible core call fills.
 *
 * Like LAPACKE's info: a negative status means the caller passed something wrong
 * (argument position in err->arg), a positive one a failure of valid input: numerical, or of
 * the world (memory, files). The class alone decides what a caller does: the Lua binding
 * raises for misuse and returns nil, msg for every positive status, with no special cases.
 * The core never prints, aborts or longjmps. */
#ifndef NTK_ERROR_H
#define NTK_ERROR_H

#include <stddef.h>

/* Status codes: 0 success, < 0 misuse (err->arg names the argument), > 0 failure of valid
 * input (numerical 1..4, the world 5..7). */
enum {
  NTK_OK = 0,
  /* misuse: the caller passed something wrong */
  NTK_EARG = -1,      /* bad value or option */
  NTK_ESHAPE = -2,    /* incompatible shapes */
  NTK_ERANGE = -3,    /* index out of range */
  NTK_ERELEASED = -7, /* object used after release */
  /* numerical failures of valid input */
  NTK_ESINGULAR = 1,  /* singular matrix */
  NTK_ENOTPD = 2,     /* matrix not positive definite */
  NTK_ENOCONV = 3,    /* iteration did not converge */
  NTK_ENONFINITE = 4, /* NaN or Inf met */
  /* failures of the world: valid requests the machine or the file system could not serve */
  NTK_ENOMEM = 5,     /* allocation failed (or the request exceeds NTK_TENSOR_MAX_NUMEL) */
  NTK_EIO = 6,        /* file could not be read or written */
  NTK_EFORMAT = 7     /* file contents malformed */
};

/* Capacity of ntk_error.msg in bytes, the terminating NUL included (longer text is cut). */
#define NTK_ERROR_MSG_MAX 256

/* The error record a fallible function fills: {status, argument position, message}. */
typedef struct ntk_error {
  int status;                   /* one of NTK_* */
  int arg;                      /* 1-based position of the offending argument, 0 if none */
  char msg[NTK_ERROR_MSG_MAX];  /* short human-readable message, no trailing newline */
} ntk_error;

/* err <- {status, arg, printf(fmt, ...)}; returns status. err may be NULL. */
int ntk_error_set(ntk_error *err, int status, int arg, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* err <- {NTK_OK, 0, ""}. err may be NULL. */
void ntk_error_clear(ntk_error *err);

/* Static name of a status code, e.g. "NTK_ESHAPE". */
const char *ntk_status_name(int status);

#endif
