/* fsync_shim.c — LD_PRELOAD library for bench/notify/run_notify_bench.sh: changes what fsync()
 * does for file descriptors under one directory (the notification spool), so the benchmark can
 * measure alternatives to write_event's "fsync the file, rename, fsync new/" without rebuilding
 * the Sieve plugin. Every other fsync (Dovecot's own, of the stored message) is passed through.
 *   MW_FSYNC_SPOOL=DIR   only descriptors whose path starts with DIR/ (or is DIR/new) are affected
 *   MW_FSYNC_MODE=       fsync (unchanged) | fdatasync (files: fdatasync, directories: fsync)
 *                        | nodir (files: fsync, directories: skipped)
 *                        | fdatasync-nodir | none (nothing synced)
 * Built by the benchmark script with `cc -shared -fPIC -O2 fsync_shim.c -o fsync_shim.so -ldl`. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

int fsync(int fd) {
  if (!real_fsync) {
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  }
  const char *spool = getenv("MW_FSYNC_SPOOL");
  const char *mode = getenv("MW_FSYNC_MODE");
  if (!spool || !*spool || !mode || strcmp(mode, "fsync") == 0) return real_fsync(fd);
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return real_fsync(fd);
  path[n] = '\0';
  size_t len = strlen(spool);
  if (strncmp(path, spool, len) != 0 || path[len] != '/') return real_fsync(fd);
  struct stat st;
  int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  if (strcmp(mode, "none") == 0) return 0;
  if (is_dir) {
    if (strcmp(mode, "nodir") == 0 || strcmp(mode, "fdatasync-nodir") == 0) return 0;
    return real_fsync(fd);
  }
  if (strcmp(mode, "fdatasync") == 0 || strcmp(mode, "fdatasync-nodir") == 0) return real_fdatasync(fd);
  return real_fsync(fd);
}
