/* One SSE instruction (ADDPS xmm0, xmm1: 0F 58 C1), which kmemsim's i686 does not have (issue 16, item 9). */
#include "libc.h"

int main(void)
{
	printf("before\n");
	fflush(stdout);
	__asm__ volatile(".byte 0x0f, 0x58, 0xc1");
	printf("after\n");
	return 0;
}
