/*
 * A module that needs nothing from the kernel but the guest runtime:
 * init_module returns 0 when the string functions behave, or the number
 * of the first check that failed. Used by the CLI end-to-end test.
 */
#include <kmemsim/kernel.h>

static char buf[64];

int init_module(void)
{
	char tmp[32];

	memset(buf, 0, sizeof(buf));
	strcpy(buf, "kmemsim");
	if (strlen(buf) != 7)
		return 1;
	memcpy(tmp, buf, 8);
	if (strcmp(tmp, "kmemsim") != 0)
		return 2;
	memmove(buf + 1, buf, 7);
	if (strncmp(buf, "kkmemsim", 8) != 0)
		return 3;
	if (strchr(buf, 's') != buf + 5)
		return 4;
	return 0;
}

void cleanup_module(void)
{
	memset(buf, 0, sizeof(buf));
}
