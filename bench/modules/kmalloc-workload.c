/*
 * bench/modules/kmalloc-workload.c — the kmemcheck benchmark's kernel module: a
 * kmalloc-heavy workload (lists of objects of mixed sizes, filled, walked,
 * copied with memcpy and freed), deterministic, ending with a checksum
 * printed through printk. Every byte it reads was written first, so a
 * correct kmemcheck run reports nothing.
 */
#include <kmemsim/kernel.h>

#define ROUNDS 100
#define NODES 64

struct node {
	struct node *next;
	u32 key;
	u32 value;
	u8 payload[40];
};

static u32 rng = 12345;
static u32 next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static u32 run_round(void)
{
	struct node *head = NULL;
	u32 sum = 0;
	int i;

	for (i = 0; i < NODES; i++) {
		struct node *n = kmalloc(sizeof(*n), GFP_KERNEL);
		int j;
		if (!n)
			return 0;
		n->key = next_rand();
		n->value = n->key ^ 0x5a5a5a5a;
		for (j = 0; j < (int)sizeof(n->payload); j++)
			n->payload[j] = (u8)(n->key + j);
		n->next = head;
		head = n;
	}
	for (i = 0; i < 4; i++) {
		struct node *n;
		for (n = head; n; n = n->next)
			sum = sum * 31 + n->value + n->payload[(n->key + i) % sizeof(n->payload)];
	}
	{
		char *a = kmalloc(256, GFP_KERNEL);
		char *b = kzalloc(256, GFP_KERNEL);
		if (a && b) {
			memset(a, (int)(sum & 0xff), 256);
			memcpy(b, a, 256);
			sum += (u8)b[sum % 256];
		}
		kfree(a);
		kfree(b);
	}
	while (head) {
		struct node *n = head;
		head = n->next;
		kfree(n);
	}
	return sum;
}

int init_module(void)
{
	u32 sum = 0;
	int r;
	for (r = 0; r < ROUNDS; r++)
		sum ^= run_round();
	printk(KERN_INFO "checksum: %08x\n", sum);
	return 0;
}
