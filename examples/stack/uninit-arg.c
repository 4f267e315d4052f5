/*
 * An uninitialized value passed to a function: parse() fails before it
 * writes *len, and the caller passes len to checksum() regardless.
 * Every strategy can see this one: precise and cpl1 at the read that
 * loads len for the call, ftrace at checksum()'s entry (its second
 * argument is the poison).
 */
#include <kmemsim/kernel.h>

__attribute__((noipa)) int parse(const char *s, int *len)
{
	if (!s[0])
		return -EINVAL;
	*len = strlen(s);
	return 0;
}

__attribute__((noipa)) unsigned int checksum(const char *s, int len)
{
	unsigned int sum = 0;
	int i;

	for (i = 0; i < len && i < 16 && s[i]; i++)
		sum = sum * 31 + s[i];
	return sum;
}

int init_module(void)
{
	int len;
	const char *empty = "";

	parse(empty, &len);
	printk(KERN_INFO "uninit-arg: %u\n", checksum(empty, len));
	return 0;
}
