/*
 * A user-program fuzz target on the project's runtime (examples/lib) for
 * the cmplog stage's routine compares: a command on stdin is accepted
 * only after an 8-byte key that strncmp() compares with a string, and a
 * command word that strcmp() compares with another. Behind both, the
 * planted bug: a store through a null pointer (SIGSEGV).
 * No 2- or 4-byte constant in the code gives the
 * key away, and strncmp() stops at the first differing byte, so coverage
 * does not lead there byte by byte: cmplog's logging of strncmp's and
 * strcmp's arguments (cdecl, on the stack) does, where havoc alone does not.
 *
 *   kmemsim fuzz build/fuzz/keyword -o out --runs 1000
 */
#include "libc.h"

static char input[256];
static const char key[] = "OPEN-SESAME";

int main(void)
{
	int n = read(0, input, sizeof(input) - 1);
	char *word;

	if (n < 12)
		return 0;
	input[n] = 0;
	if (strncmp(input, key, 8) != 0)
		return 0;
	word = input + 8;
	word[4] = 0;
	if (strcmp(word, "drop") != 0)
		return 0;
	*(volatile int *)0 = n; /* the planted bug */
	return 0;
}
