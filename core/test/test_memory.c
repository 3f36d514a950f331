/* test_memory.c: ntk_memory's checks under an address-space limit set in-process (skipped under
 * ASan, whose shadow memory needs an unlimited address space), and the thread cap. */
#include <string.h>
#include <sys/resource.h>

#include "../ntk.h"
#include "ntk_test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifndef UNDER_ASAN
static void test_rlimit(void) {
  struct rlimit rl;
  ntk_tensor t = {0};
  ntk_error e;
  const char *source = NULL;
  size_t room;
  CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
  /* 1.5 GiB of address space: a 2 GiB tensor cannot fit, a 16 MiB one can */
  rl.rlim_cur = (rlim_t)3 << 29;
  CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
  room = ntk_memory_available(ntk_threads_get(), &source);
  CHECK(room < ((size_t)3 << 29) && strcmp(source, "RLIMIT_AS") == 0);
  CHECK(ntk_tensor_init_2d(&t, (size_t)1 << 14, (size_t)1 << 14, &e) == NTK_ENOMEM);
  CHECK(strstr(e.msg, "a tensor of 268435456 doubles needs 2147483648 bytes") != NULL);
  CHECK(strstr(e.msg, "(RLIMIT_AS)") != NULL);
  CHECK(ntk_tensor_init_2d(&t, 1024, 2048, &e) == NTK_OK);
  ntk_tensor_release(&t);
  /* small requests pass without a look */
  CHECK(ntk_memory_check(NTK_MEMORY_CHECK_MIN - 1, "x", &e) == NTK_OK);
  /* 64 OpenBLAS buffers (8 GiB) cannot fit */
  CHECK(ntk_memory_check_threads(64, &e) == NTK_ENOMEM && strstr(e.msg, "64 BLAS threads") != NULL);
  rl.rlim_cur = RLIM_INFINITY;
  CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
}
#endif

int main(void) {
  int cores = ntk_threads_cores(), before = ntk_threads_get();
  CHECK(cores >= 1);
  CHECK(ntk_threads_set(cores + 7) == cores);
  ntk_threads_set(before);
#ifndef UNDER_ASAN
  test_rlimit();
#endif
  TEST_MAIN_END();
}
