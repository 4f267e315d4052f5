/* A stack buffer printed with %s before it is terminated: printk reads past "ok" into bytes never written. */
#include <kmemsim/kernel.h>

__attribute__((noipa)) void fill(char *b)
{
	b[0] = 'o';
	b[1] = 'k';
}

int init_module(void)
{
	char name[8];

	fill(name);
	printk(KERN_INFO "name %s\n", name);
	return 0;
}
