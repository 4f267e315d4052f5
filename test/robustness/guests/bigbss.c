/* A static program whose .bss is 100 MiB: runs natively; kmemsim sizes guest memory from it (issue 16, item 2). */
#include "libc.h"

char big[100 << 20];
volatile unsigned last = sizeof big - 1;

int main(void)
{
	big[5] = 1;
	big[last] = 2;
	printf("bss %u MiB, sum %d\n", (unsigned)(sizeof big >> 20), big[5] + big[last]);
	return 0;
}
