/*
 * hello — the smallest useful guest: greets its arguments, looks up an
 * environment variable, writes once through printf (buffered) and once
 * through write(2) directly, and exits with status argc - 1.
 */
#include "libc.h"

int main(int argc, char **argv, char **envp)
{
	printf("Hello from a static i386 guest!\n");
	printf("argc = %d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d] = \"%s\" (%u bytes)\n", i, argv[i], (unsigned)strlen(argv[i]));
	if (argv[argc] != NULL)
		printf("argv is not NULL-terminated!\n");

	int nenv = 0;
	while (envp[nenv])
		nenv++;
	printf("%d environment strings\n", nenv);
	const char *greeting = getenv("GREETING");
	printf("GREETING=%s\n", greeting ? greeting : "(unset)");

	printf("Hello, ");
	for (int i = 1; i < argc; i++)
		printf("%s%s", argv[i], i + 1 < argc ? " and " : "");
	printf("%s!\n", argc > 1 ? "" : "world");

	/* Everything buffered so far must come out before the direct write. */
	fflush(stdout);
	static const char direct[] = "(this line went straight to write(2))\n";
	if (write(1, direct, sizeof direct - 1) != (ssize_t)(sizeof direct - 1))
		return 100;
	return argc - 1;
}
