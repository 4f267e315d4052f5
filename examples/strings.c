/*
 * strings — the runtime's string functions and printf's conversions,
 * flags, widths and precisions, checked against known answers. Each line
 * shows the result between brackets so padding is visible.
 */
#include "libc.h"

static int failures;
/* volatile: printf("%s", NULL) on purpose, without gcc proving it at compile time. */
static const char *volatile null_string;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL: %s\n", what);
		failures++;
	}
}

static void reverse(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n / 2; i++) {
		char t = s[i];
		s[i] = s[n - 1 - i];
		s[n - 1 - i] = t;
	}
}

static int count_words(const char *s)
{
	int words = 0, in = 0;
	for (; *s; s++) {
		int space = *s == ' ' || *s == '\t' || *s == '\n';
		if (!space && !in)
			words++;
		in = !space;
	}
	return words;
}

int main(void)
{
	printf("== integers ==\n");
	printf("[%d] [%i] [%u] [%d]\n", 0, -42, 3000000000u, -2147483647 - 1);
	printf("[%5d] [%-5d] [%05d] [%+d] [% d] [%+5d]\n", 42, 42, 42, 42, 42, -42);
	printf("[%-+6d] [%06d] [%.3d] [%8.3d] [%-8.3d] [%.0d]\n", 7, -42, 5, -5, 5, 0);
	printf("[%x] [%X] [%#x] [%#X] [%08x] [%#010x]\n", 0xbeef, 0xbeef, 255, 255, 0xabc, 0xabc);
	printf("[%o] [%#o] [%#o] [%x] [%u]\n", 8, 8, 0, 0u, 0u);
	printf("[%hd] [%hu] [%hhd] [%hhu] [%hx]\n", 70000, 70000, 300, 300, 0x12345);
	printf("[%ld] [%lu] [%lx] [%zu]\n", -123456789L, 4000000000UL, 0xdeadbeefUL, sizeof(long long));
	printf("[%lld] [%llu] [%llx] [%20lld] [%-20llu]|\n", -9000000000000000000LL,
	       18446744073709551615ULL, 0x0123456789abcdefULL, 1234567890123LL, 42ULL);
	printf("[%*d] [%-*d] [%.*d] [%*s]\n", 6, 1, 6, 2, 4, 3, 3, "ab");
	printf("[%p] [%p]\n", (void *)0x1234, (void *)0);

	printf("== strings and chars ==\n");
	printf("[%s] [%10s] [%-10s] [%.2s] [%5.1s] [%s]\n", "abc", "right", "left", "truncate", "xyz", null_string);
	printf("[%c] [%3c] [%-3c] [%%] [100%%]\n", 'A', 'B', 'C');

	printf("== snprintf ==\n");
	char buf[16];
	int n = snprintf(buf, sizeof buf, "%s-%d", "truncated output here", 12345);
	printf("returned %d, kept \"%s\" (%u chars)\n", n, buf, (unsigned)strlen(buf));
	n = snprintf(buf, 1, "xyz");
	printf("size 1: returned %d, buf \"%s\"\n", n, buf);
	n = sprintf(buf, "%05d|%-3s|", 17, "x");
	printf("sprintf: %d \"%s\"\n", n, buf);
	check(n == 10 && strcmp(buf, "00017|x  |") == 0, "sprintf");

	printf("== string functions ==\n");
	const char *text = "the quick brown fox jumps over the lazy dog";
	printf("strlen: %u\n", (unsigned)strlen(text));
	printf("words: %d\n", count_words(text));
	printf("strchr 'q': \"%s\"\n", strchr(text, 'q'));
	printf("strrchr 'o': \"%s\"\n", strrchr(text, 'o'));
	printf("strstr \"the\" (2nd): \"%s\"\n", strstr(text + 1, "the"));
	printf("strstr missing: %s\n", strstr(text, "cat") ? "found" : "null");
	check(strchr(text, 0) == text + strlen(text), "strchr NUL");

	char s[64];
	strcpy(s, "Hello");
	strcat(s, ", ");
	strcat(s, "strings");
	printf("strcpy+strcat: \"%s\"\n", s);
	reverse(s);
	printf("reversed: \"%s\"\n", s);

	printf("strcmp: %d %d %d\n", strcmp("abc", "abc") == 0, strcmp("abc", "abd") < 0, strcmp("b", "abc") > 0);
	printf("strncmp: %d %d\n", strncmp("abcdef", "abcxyz", 3) == 0, strncmp("abcdef", "abcxyz", 4) < 0);
	printf("memcmp high bit: %d\n", memcmp("\x80", "\x01", 1) > 0);

	char pad[12];
	strncpy(pad, "ab", sizeof pad);
	int zeros = 0;
	for (size_t i = 2; i < sizeof pad; i++)
		zeros += pad[i] == 0;
	printf("strncpy zero fill: %d of %u\n", zeros, (unsigned)(sizeof pad - 2));

	char mv[32];
	strcpy(mv, "0123456789");
	memmove(mv + 2, mv, 8);
	printf("memmove forward overlap: %s\n", mv);
	strcpy(mv, "0123456789");
	memmove(mv, mv + 2, 8);
	printf("memmove backward overlap: %s\n", mv);

	unsigned char block[100];
	memset(block, 0xa5, sizeof block);
	memset(block + 3, 0, 50);
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof block; i++)
		sum += block[i];
	printf("memset sum: %u\n", sum);
	unsigned char copy[100];
	for (int off = 0; off < 4; off++) {
		memset(copy, 0, sizeof copy);
		memcpy(copy + off, block + 1, 61);
		check(memcmp(copy + off, block + 1, 61) == 0, "memcpy unaligned");
	}

	printf("== numbers ==\n");
	char *end;
	printf("atoi: %d %d %d\n", atoi("12345"), atoi("  -77xyz"), atoi("+8"));
	printf("strtol hex: %ld, octal: %ld, base 36: %ld\n", strtol("0x1F", &end, 0), strtol("0755", &end, 0),
	       strtol("zz", &end, 36));
	unsigned long v = strtoul("4294967295 rest", &end, 10);
	printf("strtoul: %lu, rest \"%s\"\n", v, end);

	char num[32];
	for (int i = -3; i <= 3; i += 3) {
		snprintf(num, sizeof num, "%d", i * 1000003);
		printf("round trip %s -> %d\n", num, atoi(num));
	}

	char *dup = strdup(text);
	printf("strdup equal: %d\n", strcmp(dup, text) == 0 && dup != text);
	free(dup);

	printf("failures: %d\n", failures);
	return failures;
}
