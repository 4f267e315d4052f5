/* init_module returns -EINVAL with no kernel API at all (CLI exit status 1). */
#include <kmemsim/kernel.h>

int init_module(void)
{
	return -EINVAL;
}
