/*
 * <linux/string.h>: the string functions of the guest runtime
 * (guest/runtime/string.c and lib.c), real i386 code linked into every
 * module, as lib/string.c is in Linux.
 */
#ifndef _LINUX_STRING_H
#define _LINUX_STRING_H
#include <linux/types.h>
#include <linux/slab.h>

int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
void *memscan(void *addr, int c, size_t size);
size_t strnlen(const char *s, size_t count);
size_t strlcpy(char *dest, const char *src, size_t size);
ssize_t strscpy(char *dest, const char *src, size_t count);
char *strcat(char *dest, const char *src);
char *strncat(char *dest, const char *src, size_t count);
size_t strlcat(char *dest, const char *src, size_t count);
char *strrchr(const char *s, int c);
char *strnchr(const char *s, size_t count, int c);
char *strstr(const char *s1, const char *s2);
char *strpbrk(const char *cs, const char *ct);
char *strsep(char **s, const char *ct);
size_t strspn(const char *s, const char *accept);
size_t strcspn(const char *s, const char *reject);
int strcasecmp(const char *s1, const char *s2);
int strncasecmp(const char *s1, const char *s2, size_t len);
char *skip_spaces(const char *str);
char *strim(char *s);
static inline char *strstrip(char *str) { return strim(str); }
bool sysfs_streq(const char *s1, const char *s2);
void *memset32(u32 *s, u32 v, size_t count);

#endif
