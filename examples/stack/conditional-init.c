/*
 * Conditional initialization: lookup() writes its result only when it
 * finds the key. The caller ignores the return value and reads the result
 * anyway; for key 7 nothing was written.
 */
#include <kmemsim/kernel.h>

static const int keys[] = { 1, 2, 3, 5, 8 };

__attribute__((noipa)) int lookup(int key, int *index)
{
	unsigned int i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i] == key) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

__attribute__((noipa)) int slot_of(int key)
{
	int index;

	lookup(key, &index);	/* return value ignored */
	return index;		/* uninitialized when the key is missing */
}

int init_module(void)
{
	int a = slot_of(3);
	int b = slot_of(7);

	printk(KERN_INFO "conditional-init: slot %d\n", a);
	(void)b;
	return 0;
}
