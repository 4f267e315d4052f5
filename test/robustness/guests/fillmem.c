/*
 * Fills the guest's address space at run time through brk and then mmap2,
 * touching one byte per MiB, until the kernel says no: as on Linux (which
 * overcommits: untouched pages take no memory) both fail — brk by returning
 * the old break, mmap2 with -ENOMEM — and the machine never stops.
 * With the argument "stack" it keeps the mappings and then recurses: the
 * stack cannot grow into them, and the program dies of SIGSEGV as on Linux.
 * With "touch" it writes every page it gets from brk: the simulated RAM runs
 * out first, and the OOM killer ends the program with SIGKILL.
 */
#include "libc.h"

#define STEP (1 << 20)

static int deep(int n)
{
	volatile char frame[4096];
	frame[0] = (char)n;
	return deep(n + 1) + frame[0];
}

int main(int argc, char **argv)
{
	char *start = (char *)sys_brk(0);
	char *end = start;
	unsigned brk_mib = 0, mmap_mib = 0;
	long last = 0;
	int brk_kept = 0;
	for (;;) {
		char *want = end + STEP;
		char *got = (char *)sys_brk(want);
		if (got != want) {
			brk_kept = got == end; /* Linux: a failed brk returns the unchanged break */
			break;
		}
		end = want;
		end[-1] = 1;
		if (argc > 1 && !strcmp(argv[1], "touch"))
			for (char *q = want - STEP; q < want; q += 4096)
				*q = 1;
		brk_mib++;
	}
	sys_brk(start);
	for (;;) {
		long p = sys_mmap2(0, STEP, 3, 0x22, -1, 0);
		if (p < 0 && p > -4096) {
			last = p;
			break;
		}
		((char *)p)[STEP - 1] = 1;
		mmap_mib++;
	}
	if (argc > 1 && !strcmp(argv[1], "stack")) {
		for (;;) {
			/* the last pages, one at a time */
			long p = sys_mmap2(0, 4096, 3, 0x22, -1, 0);
			if (p < 0 && p > -4096)
				break;
		}
	}
	if (argc > 1 && !strcmp(argv[1], "stack"))
		return deep(0);
	printf("brk stopped after %u MiB (%s), mmap2 after %u MiB with %ld\n", brk_mib,
	       brk_kept ? "returned the old break" : "returned something else", mmap_mib, last);
	return 0;
}
