/*
 * bench/workload.c — kmemsim's CPU benchmark guest (static i386, built at
 * -O2 into build/bench/workload by scripts/build-guests.mjs).
 *
 *   workload [ROUNDS]        default ROUNDS = 60 (≈ 290 million instructions)
 *
 * Each round runs a fixed mix of the things compiled C code spends its time
 * on, every phase seeded from the round number:
 *   - sort:   4096 pseudo-random ints through qsort (comparator calls
 *             through a function pointer) and a recursive merge sort
 *   - hash:   FNV-1a and table-driven CRC-32 over 16 KiB
 *   - memory: memcpy/memmove/memset at assorted offsets and lengths
 *   - string: snprintf into a text buffer, strlen/strcmp/strstr/strchr
 *   - int64:  xorshift64*, 64-bit multiply, divide and modulo (libgcc calls)
 *   - calls:  recursion and a small open-addressing hash table
 * It prints one checksum per phase and a total, so a wrong result under
 * kmemsim is visible; the output depends only on ROUNDS.
 *
 * The instruction count grows linearly with ROUNDS (about 4.8 million
 * instructions per round at -O2); bench/run.mjs picks ROUNDS.
 */
#include "libc.h"

#define NSORT 4096
#define HASHBUF (16 * 1024)
#define TEXTBUF 8192
#define TABLE 2048 /* power of two */

static uint32_t sort_a[NSORT], sort_b[NSORT], sort_tmp[NSORT];
static unsigned char hbuf[HASHBUF], mbuf_src[HASHBUF], mbuf_dst[HASHBUF + 64];
static char text[TEXTBUF];
static uint32_t crc_table[256];
static struct {
	uint32_t key;
	uint32_t value;
} table[TABLE];

/* ---- helpers ---- */

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v + 0x9e3779b9u + (h << 6) + (h >> 2);
	return h;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static void merge_sort(uint32_t *a, uint32_t *tmp, int n)
{
	if (n <= 16) {
		for (int i = 1; i < n; i++) {
			uint32_t v = a[i];
			int j = i;
			while (j > 0 && a[j - 1] > v) {
				a[j] = a[j - 1];
				j--;
			}
			a[j] = v;
		}
		return;
	}
	int h = n / 2;
	merge_sort(a, tmp, h);
	merge_sort(a + h, tmp, n - h);
	int i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
	while (i < h)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	memcpy(a, tmp, (size_t)n * sizeof *a);
}

/* ---- phases: each returns a checksum ---- */

static uint32_t phase_sort(uint32_t round)
{
	uint32_t s = round * 2654435761u + 1;
	for (int i = 0; i < NSORT; i++)
		sort_a[i] = lcg(&s) >> 4;
	memcpy(sort_b, sort_a, sizeof sort_a);
	qsort(sort_a, NSORT / 2, sizeof sort_a[0], cmp_u32);
	merge_sort(sort_b, sort_tmp, NSORT);
	uint32_t h = 0;
	for (int i = 0; i < NSORT / 2; i++)
		h = mix(h, sort_a[i]);
	for (int i = 0; i < NSORT; i += 7)
		h = mix(h, sort_b[i]);
	for (int i = 1; i < NSORT; i++)
		if (sort_b[i - 1] > sort_b[i])
			h ^= 0xdeadbeefu; /* never: the sort is correct */
	return h;
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static uint32_t phase_hash(uint32_t round)
{
	uint32_t s = round + 77;
	for (int i = 0; i < HASHBUF; i += 4) {
		uint32_t v = lcg(&s);
		memcpy(hbuf + i, &v, 4);
	}
	return fnv1a(hbuf, HASHBUF) ^ crc32(hbuf, HASHBUF) ^ crc32(hbuf + 1, HASHBUF / 3);
}

static uint32_t phase_memory(uint32_t round)
{
	uint32_t s = round ^ 0x5555u, h = 0;
	memset(mbuf_src, (int)(round & 0xff), HASHBUF);
	for (int i = 0; i < 64; i++) {
		size_t len = 64 + lcg(&s) % 4000;
		size_t so = lcg(&s) % (HASHBUF - len), d = lcg(&s) % (HASHBUF - len);
		mbuf_src[so] = (unsigned char)i;
		memcpy(mbuf_dst + (i & 7), mbuf_src + so, len);
		memset(mbuf_src + d, i, len / 4);
		memmove(mbuf_src + d + 3, mbuf_src + d, len / 2);
		h = mix(h, mbuf_dst[(i & 7) + len / 2]);
		h = mix(h, (uint32_t)memcmp(mbuf_src + so, mbuf_dst + (i & 7), len / 8 + 1) + 1);
	}
	return h ^ fnv1a(mbuf_src, 4096);
}

static uint32_t phase_string(uint32_t round)
{
	static const char *words[] = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel" };
	uint32_t s = round * 31 + 7, h = 0;
	size_t pos = 0;
	text[0] = 0;
	while (pos < TEXTBUF - 64) {
		uint32_t r = lcg(&s);
		int n = snprintf(text + pos, TEXTBUF - pos, "%s-%u:%x ", words[r % 8], r >> 20, (r >> 8) & 0xfff);
		pos += (size_t)n;
	}
	h = mix(h, (uint32_t)strlen(text));
	int hits = 0;
	for (const char *p = text; (p = strstr(p, "echo-")) != NULL; p++)
		hits++;
	h = mix(h, (uint32_t)hits);
	for (const char *p = text; (p = strchr(p, ':')) != NULL; p++)
		h = mix(h, (uint32_t)(unsigned char)p[1]);
	for (int i = 0; i + 1 < 8; i++)
		h = mix(h, (uint32_t)(strcmp(words[i], words[i + 1]) < 0));
	char num[24];
	for (int i = 0; i < 200; i++) {
		snprintf(num, sizeof num, "%d", (int)(lcg(&s) - 0x80000000u));
		h = mix(h, (uint32_t)atoi(num));
	}
	return h;
}

static uint32_t phase_int64(uint32_t round)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ round;
	uint64_t acc = 0;
	for (int i = 0; i < 1500; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t r = x * 0x2545f4914f6cdd1dull;
		acc += r / ((r >> 40) | 1);         /* 64 / 32-bit divisor */
		acc ^= r % 0x1000000000fULL;         /* 64 / 64-bit divisor */
		int64_t sr = (int64_t)r;
		acc += (uint64_t)(sr / -12345);
		acc = (acc << 7) | (acc >> 57);
	}
	return (uint32_t)acc ^ (uint32_t)(acc >> 32);
}

static uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint32_t phase_calls(uint32_t round)
{
	uint32_t h = fib(18 + (round & 1));
	memset(table, 0, sizeof table);
	uint32_t s = round + 1;
	int inserted = 0;
	for (int i = 0; i < TABLE * 3 / 4; i++) {
		uint32_t k = (lcg(&s) | 1);
		uint32_t slot = (k * 2654435761u) & (TABLE - 1);
		while (table[slot].key && table[slot].key != k)
			slot = (slot + 1) & (TABLE - 1);
		if (!table[slot].key)
			inserted++;
		table[slot].key = k;
		table[slot].value += (uint32_t)i;
	}
	s = round + 1;
	for (int i = 0; i < TABLE; i++) {
		uint32_t k = (lcg(&s) | 1);
		uint32_t slot = (k * 2654435761u) & (TABLE - 1);
		while (table[slot].key && table[slot].key != k)
			slot = (slot + 1) & (TABLE - 1);
		h = mix(h, table[slot].key == k ? table[slot].value : 0);
	}
	return mix(h, (uint32_t)inserted);
}

static const struct {
	const char *name;
	uint32_t (*fn)(uint32_t round);
} phases[] = {
	{ "sort", phase_sort },
	{ "hash", phase_hash },
	{ "memory", phase_memory },
	{ "string", phase_string },
	{ "int64", phase_int64 },
	{ "calls", phase_calls },
};
#define NPHASES (sizeof phases / sizeof phases[0])

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 60;
	if (rounds < 1 || rounds > 1000000) {
		dprintf(2, "usage: workload [ROUNDS]   (1..1000000, default 60)\n");
		return 2;
	}
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	uint32_t sums[NPHASES] = { 0 };
	for (long r = 0; r < rounds; r++)
		for (size_t p = 0; p < NPHASES; p++)
			sums[p] = mix(sums[p], phases[p].fn((uint32_t)r));
	uint32_t total = 0;
	printf("workload: %ld rounds\n", rounds);
	for (size_t p = 0; p < NPHASES; p++) {
		printf("  %-8s %08x\n", phases[p].name, sums[p]);
		total = mix(total, sums[p]);
	}
	printf("checksum: %08x\n", total);
	return 0;
}
