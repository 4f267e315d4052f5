/* Misbehaving guests: fill the memory, fork without end, wait for what can never happen, exec a dynamic ELF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "oom")) {
    for (long mib = 1;; mib++) {
      char *p = malloc(1 << 20);
      if (!p) { printf("malloc failed after %ld MiB\n", mib); return 3; }
      memset(p, 1, 1 << 20);
    }
  }
  if (!strcmp(mode, "forkbomb")) {
    for (;;) {
      pid_t p = fork();
      if (p < 0) { /* keep trying, as a bomb does */ }
    }
  }
  if (!strcmp(mode, "deadlock")) {
    int fd[2];
    pipe(fd);
    char c;
    read(fd[0], &c, 1); /* our own write end is open: never returns */
    return 0;
  }
  if (!strcmp(mode, "exec-dynamic")) {
    char *args[] = { argv[2], NULL };
    execv(argv[2], args);
    printf("execv %s: errno %d\n", argv[2], errno);
    return 0;
  }
  if (!strcmp(mode, "waitchild-deadlock")) {
    pid_t p = fork();
    if (p == 0) { int fd[2]; pipe(fd); char c; read(fd[0], &c, 1); _exit(0); }
    waitpid(p, NULL, 0);
    return 0;
  }
  return 1;
}
