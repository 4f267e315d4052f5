/*
 * guest/runtime/string.c — the string functions every kmemsim kernel module
 * is linked with (Linux's lib/string.c and arch/x86/lib/ provide them to
 * real modules as exported kernel symbols).
 *
 * memcpy() and memset() move data with the string instructions the way
 * i386 Linux's __memcpy() and __memset() (arch/x86/include/asm/string_32.h)
 * do: whole dwords with REP MOVSL / REP STOSL, then the 0-3 bytes left with
 * REP MOVSB / REP STOSB. That matters to kmemsim: kmemcheck has to decode
 * and follow exactly these instructions (a REP MOVS reads one address and
 * writes another in each iteration), so the runtime must use them rather
 * than byte loops. memmove() copies forward with memcpy() when that is
 * safe and otherwise backward with STD; REP MOVSB; CLD.
 *
 * Built by scripts/build-guests.mjs (kind "runtime") into
 * build/runtime/runtime.o with the module flags, -mregparm=3 included, and
 * -fno-tree-loop-distribute-patterns so gcc cannot turn the loops below
 * into calls to memset/memcpy.
 */
#include <kmemsim/kernel.h>

void *memcpy(void *to, const void *from, size_t n)
{
	unsigned long ecx, edi, esi;

	__asm__ __volatile__(
		"rep movsl\n\t"
		"movl %[n], %%ecx\n\t"
		"andl $3, %%ecx\n\t"
		"jz 1f\n\t"
		"rep movsb\n"
		"1:"
		: "=&c"(ecx), "=&D"(edi), "=&S"(esi)
		: "0"(n >> 2), [n] "g"(n), "1"(to), "2"(from)
		: "memory");
	return to;
}

void *memset(void *s, int c, size_t n)
{
	unsigned long ecx, edi;
	/* The fill byte in all four bytes of EAX, for STOSL. */
	unsigned long fill = (unsigned char)c * 0x01010101UL;

	__asm__ __volatile__(
		"rep stosl\n\t"
		"movl %[n], %%ecx\n\t"
		"andl $3, %%ecx\n\t"
		"jz 1f\n\t"
		"rep stosb\n"
		"1:"
		: "=&c"(ecx), "=&D"(edi)
		: "a"(fill), "0"(n >> 2), [n] "g"(n), "1"(s)
		: "memory");
	return s;
}

void *memmove(void *to, const void *from, size_t n)
{
	unsigned long ecx, edi, esi;
	char *d = to;
	const char *s = from;

	/*
	 * A forward copy is right unless the destination starts inside the
	 * source: every dword is read before the copy can overwrite it.
	 */
	if (d <= s || d >= s + n)
		return memcpy(to, from, n);
	/* Overlapping with the destination above: copy backward, last byte first. */
	__asm__ __volatile__(
		"std\n\t"
		"rep movsb\n\t"
		"cld"
		: "=&c"(ecx), "=&D"(edi), "=&S"(esi)
		: "0"(n), "1"(d + n - 1), "2"(s + n - 1)
		: "memory");
	return to;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
	unsigned char ca, cb;

	do {
		ca = (unsigned char)*a++;
		cb = (unsigned char)*b++;
		if (ca != cb)
			return ca < cb ? -1 : 1;
	} while (ca);
	return 0;
}

int strncmp(const char *a, const char *b, size_t n)
{
	unsigned char ca, cb;

	while (n--) {
		ca = (unsigned char)*a++;
		cb = (unsigned char)*b++;
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (!ca)
			break;
	}
	return 0;
}

char *strcpy(char *dst, const char *src)
{
	char *d = dst;

	while ((*d++ = *src++) != '\0')
		;
	return dst;
}

/* Like C's strncpy(): at most n bytes, the rest of the n filled with NULs. */
char *strncpy(char *dst, const char *src, size_t n)
{
	char *d = dst;

	while (n) {
		if ((*d = *src) != '\0')
			src++;
		d++;
		n--;
	}
	return dst;
}

char *strchr(const char *s, int c)
{
	for (; *s != (char)c; s++)
		if (*s == '\0')
			return NULL;
	return (char *)s;
}
