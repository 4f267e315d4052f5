#include "util.h"

__attribute__((noipa)) int sum_pair(const int *p)
{
	return p[0] + p[1]; /* p[1] is uninitialized unless FILL_ALL */
}
