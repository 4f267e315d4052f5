#include <linux/kernel.h>
#include <linux/export.h>
#include "pair.h"

int pair_calls;

int pair_sum(int a, int b)
{
	pair_calls++;
	return a + b;
}
EXPORT_SYMBOL(pair_sum);
