/*
 * bench/modules/kernel-workload.c — the checkers' benchmark module (`npm run
 * bench`, bench/checkers.mjs; also a program for `kmemsim compare
 * bench/modules`). Loop-heavy, so that a run's cost is the steady cost of
 * executing module code, not boot and module load: each round
 *   - builds a list of kmalloc'd nodes of two sizes, fills and walks it,
 *   - sorts an on-stack array (insertion sort inside a recursive quicksort),
 *   - computes a table-driven CRC-32 over a kmalloc'd buffer,
 *   - recurses through frames of several sizes (locals written then read),
 *   - copies buffers with memcpy and memset, frees everything.
 * Every byte read was written first, so every checker must stay silent.
 * ROUNDS (default 40, about 6 million instructions) may be set with
 * -DROUNDS=N. It prints a checksum, which bench/checkers.mjs compares with
 * the same source built as a native program (bench/native/kmemsim/kernel.h).
 */
#include <kmemsim/kernel.h>

#ifndef ROUNDS
#define ROUNDS 40
#endif
#define NODES 48
#define NSORT 96
#define CRCBUF 2048

struct node {
	struct node *next;
	u32 key;
	u32 value;
	u8 payload[24];
};

static u32 crc_table[256];
static u32 seed = 0x2545f491;

static u32 next_rand(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

static void crc_init(void)
{
	u32 i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static u32 crc32(const u8 *p, int n)
{
	u32 c = 0xffffffffu;

	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static void insertion(u32 *v, int lo, int hi)
{
	int i, j;

	for (i = lo + 1; i <= hi; i++) {
		u32 x = v[i];

		for (j = i - 1; j >= lo && v[j] > x; j--)
			v[j + 1] = v[j];
		v[j + 1] = x;
	}
}

static void quicksort(u32 *v, int lo, int hi)
{
	while (hi - lo > 8) {
		u32 pivot = v[(lo + hi) / 2];
		int i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				u32 t = v[i];
				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (j - lo < hi - i) {
			quicksort(v, lo, j);
			lo = i;
		} else {
			quicksort(v, i, hi);
			hi = j;
		}
	}
	insertion(v, lo, hi);
}

static u32 sort_round(void)
{
	u32 v[NSORT];
	u32 sum = 0;
	int i;

	for (i = 0; i < NSORT; i++)
		v[i] = next_rand() >> 4;
	quicksort(v, 0, NSORT - 1);
	for (i = 1; i < NSORT; i++)
		sum = sum * 33 + (v[i] - v[i - 1]);
	return sum;
}

__attribute__((noipa)) static u32 frames(int depth, u32 x)
{
	volatile u32 local[6];
	int i;

	for (i = 0; i < 6; i++)
		local[i] = x + i * 0x9e3779b9u;
	if (depth == 0)
		return local[1] ^ local[4];
	return frames(depth - 1, local[depth % 6]) + frames(depth - 2 < 0 ? 0 : depth - 2, local[0]) * 3;
}

static u32 list_round(void)
{
	struct node *head = NULL, *n;
	u32 sum = 0;
	int i, j;

	for (i = 0; i < NODES; i++) {
		n = kmalloc(sizeof(*n) + (i & 1) * 32, GFP_KERNEL);
		if (!n)
			return 0;
		n->key = next_rand();
		n->value = n->key ^ 0x5a5a5a5a;
		for (j = 0; j < (int)sizeof(n->payload); j++)
			n->payload[j] = (u8)(n->key >> (j & 7));
		n->next = head;
		head = n;
	}
	for (i = 0; i < 3; i++)
		for (n = head; n; n = n->next)
			sum = sum * 31 + n->value + n->payload[(n->key + i) % sizeof(n->payload)];
	while (head) {
		n = head;
		head = n->next;
		kfree(n);
	}
	return sum;
}

static u32 buffer_round(u32 salt)
{
	u8 *a = kmalloc(CRCBUF, GFP_KERNEL);
	u8 *b = kmalloc(CRCBUF, GFP_KERNEL);
	u32 sum = 0;
	int i;

	if (a && b) {
		for (i = 0; i < CRCBUF; i++)
			a[i] = (u8)(salt + i * 7);
		memcpy(b, a, CRCBUF);
		memset(a + 64, (int)(salt & 0xff), 256);
		sum = crc32(a, CRCBUF) ^ crc32(b, CRCBUF / 2);
	}
	kfree(a);
	kfree(b);
	return sum;
}

int init_module(void)
{
	u32 sum = 0;
	int r;

	crc_init();
	for (r = 0; r < ROUNDS; r++) {
		sum ^= list_round();
		sum += sort_round();
		sum ^= frames(9, sum + r);
		sum += buffer_round(sum);
	}
	printk(KERN_INFO "checksum: %08x\n", sum);
	return 0;
}

void cleanup_module(void)
{
}
