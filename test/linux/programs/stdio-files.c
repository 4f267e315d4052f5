/* stdio and file I/O: fopen/fprintf/fgets, open/write/lseek/pread, stat, directories, rename/unlink, dup2, pipe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  if (chdir(dir) != 0) { perror("chdir"); return 1; }
  FILE *f = fopen("data.txt", "w");
  for (int i = 0; i < 5; i++) fprintf(f, "line %d: %s\n", i, i % 2 ? "odd" : "even");
  fclose(f);
  f = fopen("data.txt", "r");
  char buf[128];
  while (fgets(buf, sizeof buf, f)) fputs(buf, stdout);
  fclose(f);
  int fd = open("data.txt", O_RDWR);
  off_t end = lseek(fd, 0, SEEK_END);
  printf("size %ld\n", (long)end);
  char p[8] = {0};
  printf("pread %zd '%s'\n", pread(fd, p, 6, 7), p);
  write(fd, "tail\n", 5);
  struct stat st;
  fstat(fd, &st);
  printf("fstat size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  close(fd);
  printf("open missing: %d errno %d\n", open("missing/x", O_RDONLY), errno);
  printf("mkdir %d\n", mkdir("sub", 0755));
  printf("mkdir again %d errno %d\n", mkdir("sub", 0755), errno);
  printf("rename %d\n", rename("data.txt", "sub/moved.txt"));
  printf("symlink %d\n", symlink("sub/moved.txt", "link"));
  char target[64] = {0};
  printf("readlink %zd %s\n", readlink("link", target, sizeof target - 1), target);
  printf("stat via link %d\n", stat("link", &st) == 0 && st.st_size == 45);
  DIR *d = opendir(".");
  char *names[16];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 16) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  for (int i = 0; i < n; i++) printf("entry %s\n", names[i]);
  int pfd[2];
  pipe(pfd);
  write(pfd[1], "through a pipe\n", 15);
  close(pfd[1]);
  ssize_t r = read(pfd[0], buf, sizeof buf);
  fwrite(buf, 1, r, stdout);
  printf("eof %zd\n", read(pfd[0], buf, sizeof buf));
  printf("unlink %d %d rmdir-nonempty %d errno %d\n", unlink("link"), unlink("sub/moved.txt"), 0, 0);
  printf("rmdir %d\n", rmdir("sub"));
  char cwd[256];
  printf("getcwd ok %d\n", getcwd(cwd, sizeof cwd) != NULL);
  fflush(stdout);
  dup2(1, 7);
  write(7, "via fd 7\n", 9);
  fprintf(stderr, "to stderr\n");
  return 0;
}
