/* fork/wait, pipes between processes, execve (ELF and #! script), exit statuses, kill, SIGCHLD, signal handlers incl. a handled SIGSEGV with longjmp and a returning handler. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static volatile int got_usr1, got_chld, segv_count;
static char *guard;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  segv_count++;
  if (segv_count == 1) siglongjmp(jb, (si->si_addr == guard) ? 1 : 2);
  /* second time: make the page writable and return, so the store is retried */
  mprotect(guard, 4096, PROT_READ | PROT_WRITE);
  (void)sig;
}
static void on_usr1(int sig) { got_usr1 = sig; }
static void on_chld(int sig) { (void)sig; got_chld++; }

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "child-exec")) {
    printf("exec'd child argv[2]=%s env=%s\n", argv[2], getenv("FROM_PARENT"));
    return 5;
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  /* fork + wait with exit status */
  pid_t p = fork();
  if (p == 0) { printf("child running\n"); _exit(42); }
  int st;
  pid_t w = waitpid(p, &st, 0);
  printf("waited same pid %d exited %d status %d\n", w == p, WIFEXITED(st), WEXITSTATUS(st));
  /* pipe between parent and child, child writes a lot (blocks on a full pipe) */
  int fd[2];
  pipe(fd);
  p = fork();
  if (p == 0) {
    close(fd[0]);
    char buf[1000];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 200; i++) write(fd[1], buf, sizeof buf);
    _exit(0);
  }
  close(fd[1]);
  long total = 0;
  char rb[4096];
  ssize_t n;
  while ((n = read(fd[0], rb, sizeof rb)) > 0) total += n;
  waitpid(p, &st, 0);
  printf("read %ld bytes through the pipe, child status %d\n", total, WEXITSTATUS(st));
  /* execve of ourselves */
  p = fork();
  if (p == 0) {
    char *args[] = { argv[0], "child-exec", "two", NULL };
    char *env[] = { "FROM_PARENT=yes", NULL };
    execve(argv[0], args, env);
    _exit(99);
  }
  waitpid(p, &st, 0);
  printf("exec child status %d\n", WEXITSTATUS(st));
  /* execve errors */
  char *noargs[] = { "x", NULL };
  errno = 0;
  execve("/nonexistent/prog", noargs, noargs + 1);
  printf("execve missing: errno %d\n", errno);
  /* killed by a signal */
  p = fork();
  if (p == 0) { for (;;) ; }
  kill(p, SIGTERM);
  waitpid(p, &st, 0);
  printf("killed child: signaled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
  /* child segfaults */
  p = fork();
  if (p == 0) { *(volatile int *)8 = 1; _exit(0); }
  waitpid(p, &st, 0);
  printf("segv child: signaled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
  /* SIGCHLD handler */
  struct sigaction sa = {0};
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, NULL);
  p = fork();
  if (p == 0) _exit(0);
  waitpid(p, &st, 0);
  printf("sigchld handled %d\n", got_chld);
  /* signal to self with handler */
  signal(SIGUSR1, on_usr1);
  raise(SIGUSR1);
  printf("usr1 handler ran with %d\n", got_usr1);
  /* handled SIGSEGV: longjmp out, then a handler that fixes the page and returns */
  guard = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct sigaction ss = {0};
  ss.sa_sigaction = on_segv;
  ss.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &ss, NULL);
  int r = sigsetjmp(jb, 1);
  if (r == 0) { guard[0] = 1; printf("not reached\n"); }
  printf("segv longjmp %d\n", r);
  guard[0] = 7;
  printf("segv handler returned, store retried: %d count %d\n", guard[0], segv_count);
  /* blocked signal stays pending until unblocked */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  got_usr1 = 0;
  sigprocmask(SIG_BLOCK, &set, &old);
  raise(SIGUSR1);
  printf("blocked: %d\n", got_usr1);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked: %d\n", got_usr1);
  printf("getppid differs %d\n", getppid() != getpid());
  /* SIGSTOP/SIGCONT: the stopped child is reported to WUNTRACED, continues, then dies of SIGTERM */
  p = fork();
  if (p == 0) { for (;;) ; }
  kill(p, SIGSTOP);
  waitpid(p, &st, WUNTRACED);
  printf("stopped %d sig %d\n", WIFSTOPPED(st), WSTOPSIG(st));
  kill(p, SIGCONT);
  kill(p, SIGTERM);
  waitpid(p, &st, 0);
  printf("then terminated %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
  /* sigsuspend: wait with SIGUSR1 unblocked for a child to send it */
  got_usr1 = 0;
  sigprocmask(SIG_BLOCK, &set, &old);
  pid_t me = getpid();
  p = fork();
  if (p == 0) { kill(me, SIGUSR1); _exit(0); }
  sigset_t none;
  sigemptyset(&none);
  int sr = sigsuspend(&none);
  printf("sigsuspend %d errno %d handler %d\n", sr, errno, got_usr1);
  sigprocmask(SIG_SETMASK, NULL, &set);
  printf("usr1 blocked again after sigsuspend %d\n", sigismember(&set, SIGUSR1));
  waitpid(p, &st, 0);
  return 0;
}
