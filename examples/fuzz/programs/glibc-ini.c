/*
 * A user-program fuzz target linked with glibc (gcc -m32 -static, needs
 * gcc-multilib) that reads the file named on its command line — AFL's
 * `@@` — as an INI-style "key=value" file. The planted bug: a "[section]"
 * header longer than the buffer fails an assert(), so glibc's abort()
 * raises SIGABRT.
 *
 *   gcc -m32 -static -O2 examples/fuzz/programs/glibc-ini.c -o /tmp/glibc-ini
 *   kmemsim fuzz /tmp/glibc-ini -x examples/fuzz/programs/glibc-ini.dict -o out -- @@
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

static char section[16];

static void header(const char *line)
{
	const char *end = strchr(line, ']');
	size_t n;

	if (!end)
		return;
	n = (size_t)(end - line - 1);
	assert(n < sizeof(section)); /* the planted bug: the caller never checks the length */
	memcpy(section, line + 1, n);
	section[n] = 0;
}

int main(int argc, char **argv)
{
	char line[256];
	int keys = 0;
	FILE *f;

	if (argc < 2)
		return 2;
	f = fopen(argv[1], "r");
	if (!f)
		return 2;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '[')
			header(line);
		else if (strchr(line, '='))
			keys++;
	}
	fclose(f);
	printf("%s: %d keys\n", section, keys);
	return 0;
}
