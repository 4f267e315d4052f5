/*
 * malloc — the heap: brk directly (sbrk), mmap2/munmap directly, then the
 * runtime's malloc/calloc/realloc/free on top of them, with patterns
 * written and verified in every block. Prints only facts that do not
 * depend on where the kernel put the heap or the mappings.
 */
#include "libc.h"

static int failures;

static void check(int ok, const char *what)
{
	printf("%-44s %s\n", what, ok ? "ok" : "FAIL");
	if (!ok)
		failures++;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 31);
}

static int verify(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 31))
			return 0;
	return 1;
}

int main(void)
{
	printf("== brk ==\n");
	char *b0 = sbrk(0);
	char *b1 = sbrk(10000);
	char *b2 = sbrk(0);
	check(b0 != (char *)-1, "sbrk(0) succeeds");
	check(b1 == b0, "sbrk(n) returns the old break");
	check(b2 == b0 + 10000, "break moved by exactly n");
	memset(b1, 0x5a, 10000);
	check(b1[0] == 0x5a && b1[9999] == 0x5a, "new heap memory is writable");
	check(sbrk(-10000) == b2 && sbrk(0) == b0, "negative sbrk shrinks it back");
	check(sys_brk(0) == (long)b0, "raw brk(0) reports the same break");

	printf("== mmap2 ==\n");
	size_t len = 5 * PAGE_SIZE;
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(m != MAP_FAILED, "anonymous mmap2 succeeds");
	check(((uintptr_t)m & (PAGE_SIZE - 1)) == 0, "mapping is page aligned");
	int zero = 1;
	for (size_t i = 0; i < len; i++)
		zero &= m[i] == 0;
	check(zero, "fresh mapping reads as zeros");
	fill(m, len, 7);
	check(verify(m, len, 7), "mapping holds what was written");
	unsigned char *m2 = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(m2 != MAP_FAILED && (m2 + PAGE_SIZE <= m || m2 >= m + len), "second mapping does not overlap");
	check(munmap(m + PAGE_SIZE, PAGE_SIZE) == 0, "munmap of one page in the middle");
	check(verify(m, PAGE_SIZE, 7) && verify(m + 2 * PAGE_SIZE, 3 * PAGE_SIZE, 7 + 2 * PAGE_SIZE * 31),
	      "the pages around it are intact");
	check(sys_munmap(m + 1, PAGE_SIZE) == -EINVAL, "munmap of an unaligned address: -EINVAL");
	check(sys_mmap2(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -EINVAL,
	      "mmap2 of length 0: -EINVAL");
	check(munmap(m, len) == 0 && munmap(m2, PAGE_SIZE) == 0, "munmap the rest");

	printf("== malloc ==\n");
	enum { NBLOCKS = 64 };
	unsigned char *blocks[NBLOCKS];
	size_t sizes[NBLOCKS];
	uint32_t x = 1;
	for (int i = 0; i < NBLOCKS; i++) {
		x = x * 1103515245u + 12345u;
		sizes[i] = 1 + (x >> 16) % 3000;
		blocks[i] = malloc(sizes[i]);
		fill(blocks[i], sizes[i], (unsigned)i);
	}
	int ok = 1, aligned = 1;
	for (int i = 0; i < NBLOCKS; i++) {
		ok &= blocks[i] != NULL && verify(blocks[i], sizes[i], (unsigned)i);
		aligned &= ((uintptr_t)blocks[i] & 7) == 0;
	}
	check(ok, "64 small blocks keep their contents");
	check(aligned, "every block is 8-byte aligned");
	for (int i = 0; i < NBLOCKS; i += 2) {
		free(blocks[i]);
		blocks[i] = NULL;
	}
	for (int i = 0; i < NBLOCKS; i += 2) {
		blocks[i] = malloc(sizes[i]);
		fill(blocks[i], sizes[i], (unsigned)i + 100);
	}
	ok = 1;
	for (int i = 0; i < NBLOCKS; i++)
		ok &= verify(blocks[i], sizes[i], (unsigned)i + (i % 2 ? 0 : 100));
	check(ok, "freed blocks are reused without clobbering");

	int *z = calloc(1000, sizeof *z);
	int allzero = 1;
	for (int i = 0; i < 1000; i++)
		allzero &= z[i] == 0;
	check(z && allzero, "calloc returns zeroed memory");

	char *r = malloc(10);
	strcpy(r, "realloc!");
	for (size_t n = 16; n <= 40000; n *= 3) {
		r = realloc(r, n);
		if (!r)
			break;
		r[n - 1] = 0;
	}
	check(r && strcmp(r, "realloc!") == 0, "realloc keeps the prefix while growing");

	unsigned char *big = malloc(300000);
	check(big != NULL, "300000-byte block (mmap2 path)");
	fill(big, 300000, 3);
	check(verify(big, 300000, 3), "big block holds its contents");
	struct malloc_stats st;
	malloc_get_stats(&st);
	printf("mallocs %u, frees %u, mmaps %u, munmaps %u\n", st.mallocs, st.frees, st.mmaps, st.munmaps);
	free(big);
	free(r);
	free(z);
	for (int i = 0; i < NBLOCKS; i++)
		free(blocks[i]);
	malloc_get_stats(&st);
	printf("after freeing everything: in use %u, mapped %u, munmaps %u\n",
	       (unsigned)st.in_use, (unsigned)st.mmap_bytes, st.munmaps);
	check(st.in_use == 0 && st.mmap_bytes == 0, "nothing leaked");

	printf("failures: %d\n", failures);
	return failures;
}
