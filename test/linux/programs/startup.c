/* Start-up as Linux: auxv matches the (simulated) CPU, TLS works, /proc/self/exe, uname, ids. Prints only host-independent facts. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/utsname.h>
#include <cpuid.h>
#include <elf.h>

static __thread int tls_counter = 5;
extern char **environ;

/* The kernel's auxv as it was on the initial stack, after envp (glibc's getauxval(AT_HWCAP) is glibc's own recomputation on x86). */
static unsigned long raw_auxv(unsigned long type) {
  char **e = environ;
  while (*e) e++;
  for (Elf32_auxv_t *a = (Elf32_auxv_t *)(e + 1); a->a_type != AT_NULL; a++)
    if (a->a_type == type) return a->a_un.a_val;
  return 0;
}

int main(int argc, char **argv) {
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  /* Linux's ELF_HWCAP is CPUID.1:EDX; a virtualized host may differ, so this is checked under kmemsim only. */
  if (getenv("CHECK_HWCAP")) printf("hwcap matches cpuid: %d\n", raw_auxv(AT_HWCAP) == d);
  printf("pagesz %lu secure %lu\n", getauxval(AT_PAGESZ), getauxval(AT_SECURE));
  printf("platform %s\n", (const char *)getauxval(AT_PLATFORM));
  printf("execfn is argv0: %d\n", strcmp((const char *)getauxval(AT_EXECFN), argv[0]) == 0);
  printf("uid matches: %d\n", getauxval(AT_UID) == getuid() && getauxval(AT_GID) == getgid());
  const Elf32_Phdr *ph = (const Elf32_Phdr *)getauxval(AT_PHDR);
  printf("phdr readable, phnum %lu, first type %u\n", getauxval(AT_PHNUM), ph[0].p_type);
  printf("random nonnull %d\n", getauxval(AT_RANDOM) != 0);
  tls_counter++;
  printf("tls %d\n", tls_counter);
  char exe[512] = {0};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  printf("exe absolute %d ends with startup %d\n", n > 0 && exe[0] == '/', n > 7 && strcmp(exe + n - 7, "startup") == 0);
  struct utsname u;
  uname(&u);
  printf("sysname %s\n", u.sysname);
  printf("argc %d argv1 %s\n", argc, argc > 1 ? argv[1] : "-");
  return 0;
}
