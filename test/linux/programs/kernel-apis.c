/* Self-checking probes of the personality's calls; prints one line per probe (kmemsim-only expectations in the test). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <asm/ldt.h>

#define SHOW(label, expr) do { errno = 0; long r_ = (long)(expr); printf(label ": %ld errno %d\n", r_, errno); } while (0)

static void try_open(const char *p) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) { printf("open %s: errno %d\n", p, errno); return; }
  char b[64] = {0};
  read(fd, b, sizeof b - 1);
  b[strcspn(b, "\n")] = 0;
  printf("open %s: '%s'\n", p, b);
  close(fd);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "all";
  if (!strcmp(mode, "confine")) {
    try_open("inside.txt");
    try_open("/inside.txt");
    try_open("../outside.txt");
    try_open("/../../outside.txt");
    try_open("abs-link");
    try_open("rel-link");
    try_open("/proc/self/root/../outside.txt");
    try_open("dir-link/../outside.txt");
    char cwd[256];
    chdir("/..");
    printf("cwd after chdir(/..) %s\n", getcwd(cwd, sizeof cwd));
    return 0;
  }
  if (!strcmp(mode, "readonly")) {
    SHOW("create", open("new.txt", O_WRONLY | O_CREAT, 0644));
    SHOW("write-open", open("inside.txt", O_WRONLY));
    SHOW("mkdir", mkdir("newdir", 0755));
    SHOW("unlink", unlink("inside.txt"));
    printf("read-open ok: %d\n", open("inside.txt", O_RDONLY) >= 0);
    printf("dev/null write: %zd\n", write(open("/dev/null", O_WRONLY), "x", 1));
    return 0;
  }
  /* memory */
  char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap zeroed %d\n", m != MAP_FAILED && m[0] == 0 && m[3 * 4096 - 1] == 0);
  m[5000] = 9;
  char *m2 = mremap(m, 3 * 4096, 64 * 4096, MREMAP_MAYMOVE);
  printf("mremap keeps data %d\n", m2 != MAP_FAILED && m2[5000] == 9 && m2[60 * 4096] == 0);
  SHOW("munmap", munmap(m2, 64 * 4096));
  SHOW("mprotect unmapped", mprotect(m2, 4096, PROT_READ));
  int fd = open(argv[0], O_RDONLY);
  unsigned char *f = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  printf("file mapping is ELF %d\n", f != MAP_FAILED && f[0] == 0x7f && f[1] == 'E');
  char maps[8192] = {0};
  int mfd = open("/proc/self/maps", O_RDONLY);
  ssize_t n = read(mfd, maps, sizeof maps - 1);
  printf("maps has heap %d stack %d file-mapping %d\n", n > 0 && strstr(maps, "[heap]") != NULL, strstr(maps, "[stack]") != NULL, strstr(maps, "r--p 00000000") != NULL);
  /* devices and proc */
  unsigned char z[8], r1[8], r2[8];
  int zf = open("/dev/zero", O_RDONLY);
  read(zf, z, 8);
  printf("dev/zero %d\n", !memcmp(z, "\0\0\0\0\0\0\0\0", 8));
  getrandom(r1, 8, 0);
  int uf = open("/dev/urandom", O_RDONLY);
  read(uf, r2, 8);
  printf("random %02x%02x%02x%02x %02x%02x%02x%02x\n", r1[0], r1[1], r1[2], r1[3], r2[0], r2[1], r2[2], r2[3]);
  char ci[4096] = {0};
  int cf = open("/proc/cpuinfo", O_RDONLY);
  read(cf, ci, sizeof ci - 1);
  printf("cpuinfo vendor %d flags-line %d\n", strstr(ci, "GenuineIntel") != NULL, strstr(ci, "\nflags\t\t: ") != NULL);
  char l[64] = {0};
  readlink("/proc/self/fd/1", l, sizeof l - 1);
  printf("fd1 -> %.5s\n", l);
  SHOW("isatty on a pipe", isatty(1));
  /* TLS slots */
  struct user_desc u = { .entry_number = 7 };
  long g = syscall(SYS_get_thread_area, &u);
  printf("get_thread_area(7) %ld empty %d\n", g, u.seg_not_present);
  struct user_desc bad = { .entry_number = 12 };
  SHOW("set_thread_area(12)", syscall(SYS_set_thread_area, &bad));
  unsigned gs;
  __asm__("mov %%gs, %0" : "=r"(gs));
  printf("gs selector %#x\n", gs);
  /* time */
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct timespec d = { 2, 500000000 };
  nanosleep(&d, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double el = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("slept >= 2.5 s of virtual time %d\n", (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) >= 2500000000LL);
  (void)el;
  printf("time %ld\n", (long)time(NULL) / 86400);
  signal(SIGPIPE, SIG_IGN);
  int p[2];
  pipe(p);
  close(p[0]);
  SHOW("write to closed pipe", write(p[1], "x", 1));
  fflush(stdout);
  if (!strcmp(mode, "segv")) *(volatile int *)f = 1; /* read-only mapping */
  if (!strcmp(mode, "abort")) abort();
  return 0;
}
