/* ntk_error.c: the error record. */
#include "ntk_error.h"

#include <stdarg.h>
#include <stdio.h>

int ntk_error_set(ntk_error *err, int status, int arg, const char *fmt, ...) {
  if (err) {
    va_list ap;
    err->status = status;
    err->arg = arg;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return status;
}

void ntk_error_clear(ntk_error *err) {
  if (err) {
    err->status = NTK_OK;
    err->arg = 0;
    err->msg[0] = '\0';
  }
}

const char *ntk_status_name(int status) {
  switch (status) {
    case NTK_OK: return "NTK_OK";
    case NTK_EARG: return "NTK_EARG";
    case NTK_ESHAPE: return "NTK_ESHAPE";
    case NTK_ERANGE: return "NTK_ERANGE";
    case NTK_ENOMEM: return "NTK_ENOMEM";
    case NTK_EIO: return "NTK_EIO";
    case NTK_EFORMAT: return "NTK_EFORMAT";
    case NTK_ERELEASED: return "NTK_ERELEASED";
    case NTK_ESINGULAR: return "NTK_ESINGULAR";
    case NTK_ENOTPD: return "NTK_ENOTPD";
    case NTK_ENOCONV: return "NTK_ENOCONV";
    case NTK_ENONFINITE: return "NTK_ENONFINITE";
    default: return "NTK_UNKNOWN";
  }
}
