/* init_module waits for a semaphore nobody will ever release: every task sleeps, for ever. */
#include <linux/semaphore.h>

static struct semaphore never;

int init_module(void)
{
	sema_init(&never, 0);
	down(&never);
	return 0;
}
