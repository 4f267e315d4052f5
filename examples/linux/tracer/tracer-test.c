/*
 * A course-style checker for tracer.ko (seed 002): /dev/tracer is 10:42;
 * 32 kernel threads of tracer_helper.ko make known numbers of kmalloc/kfree,
 * down_interruptible/up (hundreds of pairs) and mutex lock/unlock calls;
 * /proc/tracer, read with fopen/fscanf, must count every one; removed and
 * exited PIDs leave the table. Exit status 0 when every check passes.
 *
 *   kmemsim run --module examples/linux/tracer/tracer.c --module examples/linux/tracer/helper.c tracer-test
 *   (or with argument --insmod DIR: system("insmod DIR/tracer.ko") … through sh, as the course's checker)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include "tracer.h"
#include "helper.h"

#define N 32

static int failures, checks;

static void check(int ok, const char *what, int pid, long got, long want)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL pid %d %s: %ld, expected %ld\n", pid, what, got, want);
	}
}

struct row { int pid; long kmalloc, kfree, kmalloc_mem, kfree_mem, sched, up, down, lock, unlock; };

static int read_table(struct row *rows, int max)
{
	char header[256];
	int n = 0;
	FILE *f = fopen("/proc/tracer", "r");
	if (!f) {
		perror("fopen /proc/tracer");
		exit(1);
	}
	if (!fgets(header, sizeof(header), f) || strncmp(header, "PID", 3) != 0) {
		printf("FAIL /proc/tracer header: %s", header);
		exit(1);
	}
	while (n < max && fscanf(f, "%d %ld %ld %ld %ld %ld %ld %ld %ld %ld", &rows[n].pid, &rows[n].kmalloc, &rows[n].kfree, &rows[n].kmalloc_mem,
				 &rows[n].kfree_mem, &rows[n].sched, &rows[n].up, &rows[n].down, &rows[n].lock, &rows[n].unlock) == 10)
		n++;
	fclose(f);
	return n;
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		printf("FAIL %s\n", cmd);
		exit(1);
	}
}

/* A traced child process: one row while it waits on a pipe, none once it has exited (do_exit). */
static int traced_process_exits(int tracer)
{
	struct row rows[N + 4];
	int p[2], status = 0, before, after;
	pid_t child;
	char c = 0;

	if (pipe(p) != 0)
		return 0;
	child = fork();
	if (child == 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (child < 0 || ioctl(tracer, TRACER_ADD_PROCESS, child) != 0)
		return 0;
	before = read_table(rows, N + 4);
	if (write(p[1], &c, 1) != 1 || waitpid(child, &status, 0) != child)
		return 0;
	close(p[1]);
	after = read_table(rows, N + 4);
	return before == 1 && after == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
	struct helper_threads t = { .n = N };
	struct helper_work w;
	struct row rows[N + 4];
	struct stat st;
	char cmd[512];
	int tracer, helper, i, j, n, pairs = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3 && strcmp(argv[1], "--insmod") == 0) {
		snprintf(cmd, sizeof(cmd), "insmod %s/tracer.ko && insmod %s/tracer_helper.ko", argv[2], argv[2]);
		sh(cmd);
	}
	if (stat("/dev/tracer", &st) != 0) {
		perror("stat /dev/tracer");
		return 1;
	}
	check(S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 && minor(st.st_rdev) == 42, "/dev/tracer 10:42", 0, minor(st.st_rdev), 42);
	tracer = open("/dev/tracer", O_RDONLY);
	helper = open("/dev/tracer_helper", O_RDWR);
	if (tracer < 0 || helper < 0) {
		perror("open");
		return 1;
	}
	if (ioctl(helper, HELPER_CREATE, &t) != 0) {
		perror("HELPER_CREATE");
		return 1;
	}
	for (i = 0; i < N; i++) {
		check(ioctl(tracer, TRACER_ADD_PROCESS, t.pids[i]) == 0, "TRACER_ADD_PROCESS", t.pids[i], -1, 0);
		w.kmallocs[i] = i % 4 + 1;
		w.size[i] = 32 * (i + 1);
		w.pairs[i] = 10 + i;
		w.locks[i] = i % 3 + 1;
		pairs += w.pairs[i];
	}
	if (ioctl(helper, HELPER_RUN, &w) != 0) {
		perror("HELPER_RUN");
		return 1;
	}
	n = read_table(rows, N + 4);
	check(n == N, "rows in /proc/tracer", 0, n, N);
	for (i = 0; i < N; i++) {
		struct row *r = NULL;
		long mem = (long)w.kmallocs[i] * w.size[i];
		for (j = 0; j < n; j++)
			if (rows[j].pid == t.pids[i])
				r = &rows[j];
		check(r != NULL, "row present", t.pids[i], 0, 1);
		if (!r)
			continue;
		check(r->kmalloc == w.kmallocs[i], "kmalloc", r->pid, r->kmalloc, w.kmallocs[i]);
		check(r->kfree == w.kmallocs[i], "kfree", r->pid, r->kfree, w.kmallocs[i]);
		check(r->kmalloc_mem == mem, "kmalloc_mem", r->pid, r->kmalloc_mem, mem);
		check(r->kfree_mem == mem, "kfree_mem", r->pid, r->kfree_mem, mem);
		check(r->up == w.pairs[i], "up", r->pid, r->up, w.pairs[i]);
		check(r->down == w.pairs[i], "down", r->pid, r->down, w.pairs[i]);
		check(r->lock == w.locks[i], "lock", r->pid, r->lock, w.locks[i]);
		check(r->unlock == w.locks[i], "unlock", r->pid, r->unlock, w.locks[i]);
		check(r->sched >= w.locks[i] + 1, "sched", r->pid, r->sched, w.locks[i] + 1);
	}
	check(ioctl(tracer, TRACER_REMOVE_PROCESS, t.pids[0]) == 0, "TRACER_REMOVE_PROCESS", t.pids[0], -1, 0);
	n = read_table(rows, N + 4);
	check(n == N - 1, "rows after TRACER_REMOVE_PROCESS", 0, n, N - 1);
	check(ioctl(helper, HELPER_STOP) == 0, "HELPER_STOP", 0, -1, 0);
	n = read_table(rows, N + 4);
	check(n == 0, "rows after the threads exited", 0, n, 0);
	check(traced_process_exits(tracer), "a traced process that exits leaves /proc/tracer", 0, -1, 0);
	close(helper);
	close(tracer);
	if (argc == 3 && strcmp(argv[1], "--insmod") == 0)
		sh("rmmod tracer_helper && rmmod tracer");
	printf("%d threads, %d up/down pairs: %d of %d checks passed\n", N, pairs, checks - failures, checks);
	return failures != 0;
}
