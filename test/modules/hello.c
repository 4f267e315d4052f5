/*
 * A small kernel module: prints through printk, uses the guest runtime
 * (strcpy, strlen, memset), static data, .bss and read-only strings.
 * test/module/module.test.ts runs it with a fake printk export.
 */
#include <kmemsim/kernel.h>

static int calls;                 /* .bss */
static int base = 40;             /* .data */
static const char who[] = "world"; /* .rodata */
static char name[16];

static int __init hello_init(void)
{
	calls++;
	memset(name, 'x', sizeof(name));
	strcpy(name, who);
	printk(KERN_INFO "hello, %s (%u letters) from init #%d\n", name, (unsigned)strlen(name), calls);
	return 0;
}

static void __exit hello_exit(void)
{
	calls++;
	printk(KERN_INFO "goodbye after %d calls, %d\n", calls, base + calls);
}

module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");

/* Called directly by the tests: five arguments, three in registers (regparm(3)), two on the stack. */
int weighted_sum(int a, int b, int c, int d, int e)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e + base;
}
