/*
 * guest/runtime/lib.c — the library routines of Linux's lib/ and mm/util.c
 * that modules call (number parsing, sscanf(), the rest of lib/string.c,
 * kstrdup() and krealloc()), written for kmemsim as guest code linked into
 * every module.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/limits.h>

/* ---- lib/string.c ---- */

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (; n; n--, p++)
		if (*p == (unsigned char)c)
			return (void *)p;
	return NULL;
}

void *memscan(void *addr, int c, size_t size)
{
	unsigned char *p = addr;

	while (size && *p != (unsigned char)c) {
		p++;
		size--;
	}
	return p;
}

size_t strnlen(const char *s, size_t count)
{
	const char *sc;

	for (sc = s; count-- && *sc != '\0'; ++sc)
		;
	return sc - s;
}

size_t strlcpy(char *dest, const char *src, size_t size)
{
	size_t ret = strlen(src);

	if (size) {
		size_t len = ret >= size ? size - 1 : ret;

		memcpy(dest, src, len);
		dest[len] = '\0';
	}
	return ret;
}

ssize_t strscpy(char *dest, const char *src, size_t count)
{
	size_t i;

	if (count == 0)
		return -E2BIG;
	for (i = 0; i < count; i++) {
		dest[i] = src[i];
		if (!src[i])
			return i;
	}
	dest[count - 1] = '\0';
	return -E2BIG;
}

char *strcat(char *dest, const char *src)
{
	strcpy(dest + strlen(dest), src);
	return dest;
}

char *strncat(char *dest, const char *src, size_t count)
{
	char *tmp = dest + strlen(dest);

	while (count-- && (*tmp = *src++) != '\0')
		tmp++;
	*tmp = '\0';
	return dest;
}

size_t strlcat(char *dest, const char *src, size_t count)
{
	size_t dsize = strlen(dest);
	size_t len = strlen(src);
	size_t res = dsize + len;

	if (dsize >= count)
		return res;
	dest += dsize;
	count -= dsize;
	if (len >= count)
		len = count - 1;
	memcpy(dest, src, len);
	dest[len] = 0;
	return res;
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	do {
		if (*s == (char)c)
			last = s;
	} while (*s++);
	return (char *)last;
}

char *strnchr(const char *s, size_t count, int c)
{
	while (count--) {
		if (*s == (char)c)
			return (char *)s;
		if (*s++ == '\0')
			break;
	}
	return NULL;
}

char *strstr(const char *s1, const char *s2)
{
	size_t l1, l2 = strlen(s2);

	if (!l2)
		return (char *)s1;
	l1 = strlen(s1);
	while (l1 >= l2) {
		l1--;
		if (!memcmp(s1, s2, l2))
			return (char *)s1;
		s1++;
	}
	return NULL;
}

size_t strspn(const char *s, const char *accept)
{
	const char *p;

	for (p = s; *p != '\0'; ++p)
		if (!strchr(accept, *p))
			break;
	return p - s;
}

size_t strcspn(const char *s, const char *reject)
{
	const char *p;

	for (p = s; *p != '\0'; ++p)
		if (strchr(reject, *p))
			break;
	return p - s;
}

char *strpbrk(const char *cs, const char *ct)
{
	for (; *cs != '\0'; ++cs)
		if (strchr(ct, *cs))
			return (char *)cs;
	return NULL;
}

char *strsep(char **s, const char *ct)
{
	char *sbegin = *s;
	char *end;

	if (sbegin == NULL)
		return NULL;
	end = strpbrk(sbegin, ct);
	if (end)
		*end++ = '\0';
	*s = end;
	return sbegin;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int isspace(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

int strncasecmp(const char *s1, const char *s2, size_t len)
{
	int c1 = 0, c2 = 0;

	while (len--) {
		c1 = lower((unsigned char)*s1++);
		c2 = lower((unsigned char)*s2++);
		if (c1 != c2 || !c1)
			break;
	}
	return c1 - c2;
}

int strcasecmp(const char *s1, const char *s2)
{
	return strncasecmp(s1, s2, SIZE_MAX);
}

char *skip_spaces(const char *str)
{
	while (isspace(*str))
		++str;
	return (char *)str;
}

char *strim(char *s)
{
	size_t size = strlen(s);
	char *end;

	if (!size)
		return s;
	end = s + size - 1;
	while (end >= s && isspace(*end))
		end--;
	*(end + 1) = '\0';
	return skip_spaces(s);
}

bool sysfs_streq(const char *s1, const char *s2)
{
	while (*s1 && *s1 == *s2) {
		s1++;
		s2++;
	}
	if (*s1 == *s2)
		return true;
	if (!*s1 && *s2 == '\n' && !s2[1])
		return true;
	if (*s1 == '\n' && !s1[1] && !*s2)
		return true;
	return false;
}

void *memset32(u32 *s, u32 v, size_t count)
{
	u32 *xs = s;

	while (count--)
		*xs++ = v;
	return s;
}

/* ---- mm/util.c and mm/slab_common.c ---- */

void *kmemdup(const void *src, size_t len, gfp_t gfp)
{
	void *p = kmalloc(len, gfp);

	if (p)
		memcpy(p, src, len);
	return p;
}

char *kstrdup(const char *s, gfp_t gfp)
{
	return s ? kmemdup(s, strlen(s) + 1, gfp) : NULL;
}

char *kstrndup(const char *s, size_t max, gfp_t gfp)
{
	size_t len;
	char *buf;

	if (!s)
		return NULL;
	len = strnlen(s, max);
	buf = kmalloc(len + 1, gfp);
	if (buf) {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
	return buf;
}

void *kmemdup_nul(const char *s, size_t len, gfp_t gfp)
{
	char *buf;

	if (!s)
		return NULL;
	buf = kmalloc(len + 1, gfp);
	if (buf) {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
	return buf;
}

/* No .rodata sharing in kmemsim: the const forms always copy and always free. */
const char *kstrdup_const(const char *s, gfp_t gfp)
{
	return kstrdup(s, gfp);
}

void kfree_const(const void *x)
{
	kfree(x);
}

void *krealloc(const void *p, size_t new_size, gfp_t flags)
{
	void *ret;
	size_t ks;

	if (unlikely(!new_size)) {
		kfree(p);
		return ZERO_SIZE_PTR;
	}
	ks = ZERO_OR_NULL_PTR(p) ? 0 : ksize(p);
	if (ks >= new_size)
		return (void *)p;
	ret = __kmalloc(new_size, flags);
	if (ret && ks) {
		memcpy(ret, p, ks);
		kfree(p);
	}
	return ret;
}

void kfree_sensitive(const void *p)
{
	if (ZERO_OR_NULL_PTR(p))
		return;
	memset((void *)p, 0, ksize(p));
	kfree(p);
}

/* ---- lib/kstrtox.c ---- */

static const char *parse_base(const char *s, unsigned int *base)
{
	if (*base == 0) {
		if (s[0] == '0') {
			if (lower(s[1]) == 'x' && ((s[2] >= '0' && s[2] <= '9') || (lower(s[2]) >= 'a' && lower(s[2]) <= 'f')))
				*base = 16;
			else
				*base = 8;
		} else {
			*base = 10;
		}
	}
	if (*base == 16 && s[0] == '0' && lower(s[1]) == 'x')
		s += 2;
	return s;
}

/* Digits of `s` in `base` into *res; the number of characters used, or -ERANGE on overflow. */
static int parse_integer(const char *s, unsigned int base, unsigned long long *res)
{
	unsigned long long acc = 0;
	int n = 0;

	for (;; n++, s++) {
		unsigned int c = (unsigned char)*s, v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (lower(c) >= 'a' && lower(c) <= 'f')
			v = lower(c) - 'a' + 10;
		else
			break;
		if (v >= base)
			break;
		if (__builtin_mul_overflow(acc, (unsigned long long)base, &acc) || __builtin_add_overflow(acc, (unsigned long long)v, &acc))
			return -ERANGE;
	}
	*res = acc;
	return n;
}

int kstrtoull(const char *s, unsigned int base, unsigned long long *res)
{
	unsigned long long v;
	int n;

	if (s[0] == '+')
		s++;
	s = parse_base(s, &base);
	n = parse_integer(s, base, &v);
	if (n < 0)
		return n;
	if (n == 0)
		return -EINVAL;
	s += n;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*res = v;
	return 0;
}

int kstrtoll(const char *s, unsigned int base, long long *res)
{
	unsigned long long tmp;
	int rv;

	if (s[0] == '-') {
		rv = kstrtoull(s + 1, base, &tmp);
		if (rv < 0)
			return rv;
		if ((long long)-tmp > 0)
			return -ERANGE;
		*res = -tmp;
	} else {
		rv = kstrtoull(s, base, &tmp);
		if (rv < 0)
			return rv;
		if ((long long)tmp < 0)
			return -ERANGE;
		*res = tmp;
	}
	return 0;
}

#define KSTRTO_UNSIGNED(name, type, maxv)					\
int name(const char *s, unsigned int base, type *res)				\
{										\
	unsigned long long tmp;							\
	int rv = kstrtoull(s, base, &tmp);					\
	if (rv < 0)								\
		return rv;							\
	if (tmp > (unsigned long long)(maxv))					\
		return -ERANGE;							\
	*res = tmp;								\
	return 0;								\
}

#define KSTRTO_SIGNED(name, type, minv, maxv)					\
int name(const char *s, unsigned int base, type *res)				\
{										\
	long long tmp;								\
	int rv = kstrtoll(s, base, &tmp);					\
	if (rv < 0)								\
		return rv;							\
	if (tmp < (long long)(minv) || tmp > (long long)(maxv))			\
		return -ERANGE;							\
	*res = tmp;								\
	return 0;								\
}

KSTRTO_UNSIGNED(kstrtoul, unsigned long, ULONG_MAX)
KSTRTO_UNSIGNED(kstrtouint, unsigned int, UINT_MAX)
KSTRTO_UNSIGNED(kstrtou16, u16, U16_MAX)
KSTRTO_UNSIGNED(kstrtou8, u8, U8_MAX)
KSTRTO_SIGNED(kstrtol, long, LONG_MIN, LONG_MAX)
KSTRTO_SIGNED(kstrtoint, int, INT_MIN, INT_MAX)

int kstrtobool(const char *s, bool *res)
{
	if (!s)
		return -EINVAL;
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*res = true;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		if (lower(s[1]) == 'n') {
			*res = true;
			return 0;
		}
		if (lower(s[1]) == 'f') {
			*res = false;
			return 0;
		}
		break;
	}
	return -EINVAL;
}

/* The user string, at most 23 bytes of it, NUL-terminated in buf[24] (as lib/kstrtox.c's kstrto_from_user()). */
static int number_from_user(char *buf, const char __user *s, size_t count)
{
	count = count < 23 ? count : 23;
	if (copy_from_user(buf, s, count))
		return -EFAULT;
	buf[count] = '\0';
	return 0;
}

int kstrtoul_from_user(const char __user *s, size_t count, unsigned int base, unsigned long *res)
{
	char buf[24];
	int err = number_from_user(buf, s, count);

	return err ? err : kstrtoul(buf, base, res);
}

int kstrtoint_from_user(const char __user *s, size_t count, unsigned int base, int *res)
{
	char buf[24];
	int err = number_from_user(buf, s, count);

	return err ? err : kstrtoint(buf, base, res);
}

unsigned long long simple_strtoull(const char *cp, char **endp, unsigned int base)
{
	unsigned long long result = 0;
	int n;

	cp = parse_base(cp, &base);
	n = parse_integer(cp, base, &result);
	if (n < 0)
		n = 0;
	if (endp)
		*endp = (char *)cp + n;
	return result;
}

unsigned long simple_strtoul(const char *cp, char **endp, unsigned int base)
{
	return simple_strtoull(cp, endp, base);
}

long simple_strtol(const char *cp, char **endp, unsigned int base)
{
	if (*cp == '-')
		return -(long)simple_strtoull(cp + 1, endp, base);
	return simple_strtoull(cp, endp, base);
}

/* ---- lib/vsprintf.c: sscanf() ---- */

/*
 * Conversions: %d %i %u %x %X %o with the hh, h, l, ll length modifiers,
 * %s, %c, %n, %%, field widths and %*d (assignment suppressed). Returns the
 * number of fields assigned.
 */
int vsscanf(const char *buf, const char *fmt, va_list args)
{
	const char *str = buf;
	int num = 0;

	while (*fmt) {
		int width = -1, qualifier = 0, suppress = 0;
		unsigned int base;
		bool is_sign;

		if (isspace(*fmt)) {
			fmt = skip_spaces(fmt);
			str = skip_spaces(str);
			continue;
		}
		if (*fmt != '%' || fmt[1] == '%') {
			if (*fmt == '%')
				fmt++;
			if (*fmt++ != *str++)
				break;
			continue;
		}
		fmt++;
		if (*fmt == '*') {
			suppress = 1;
			fmt++;
		}
		if (*fmt >= '0' && *fmt <= '9') {
			width = 0;
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == 'h' || *fmt == 'l' || *fmt == 'z' || *fmt == 'L') {
			qualifier = *fmt++;
			if (qualifier == *fmt) {
				qualifier = qualifier == 'h' ? 'H' : 'L';
				fmt++;
			}
		}
		if (!*fmt)
			break;
		if (*fmt == 'n') {
			if (!suppress)
				*va_arg(args, int *) = str - buf;
			fmt++;
			continue;
		}
		if (!*str)
			break;
		switch (*fmt++) {
		case 'c': {
			int n = width < 0 ? 1 : width;
			char *s = suppress ? NULL : va_arg(args, char *);

			while (n-- && *str) {
				if (s)
					*s++ = *str;
				str++;
			}
			if (!suppress)
				num++;
			continue;
		}
		case 's': {
			char *s = suppress ? NULL : va_arg(args, char *);

			if (width < 0)
				width = INT_MAX;
			str = skip_spaces(str);
			while (*str && !isspace(*str) && width--) {
				if (s)
					*s++ = *str;
				str++;
			}
			if (s)
				*s = '\0';
			if (!suppress)
				num++;
			continue;
		}
		case 'o': base = 8; is_sign = false; break;
		case 'x': case 'X': base = 16; is_sign = false; break;
		case 'i': base = 0; is_sign = true; break;
		case 'd': base = 10; is_sign = true; break;
		case 'u': base = 10; is_sign = false; break;
		default:
			return num;
		}
		{
			char digits[32];
			int n = 0, neg = 0, used;
			unsigned long long val;
			const char *d;

			str = skip_spaces(str);
			if (width < 0 || width > (int)sizeof(digits) - 1)
				width = sizeof(digits) - 1;
			while (n < width && str[n] && !isspace(str[n])) {
				digits[n] = str[n];
				n++;
			}
			digits[n] = '\0';
			d = digits;
			if (*d == '-' && is_sign) {
				neg = 1;
				d++;
			} else if (*d == '+') {
				d++;
			}
			d = parse_base(d, &base);
			used = parse_integer(d, base, &val);
			if (used <= 0)
				return num;
			str += (d - digits) + used;
			if (neg)
				val = -val;
			if (suppress)
				continue;
			switch (qualifier) {
			case 'H': *va_arg(args, unsigned char *) = val; break;
			case 'h': *va_arg(args, unsigned short *) = val; break;
			case 'l': case 'z': *va_arg(args, unsigned long *) = val; break;
			case 'L': *va_arg(args, unsigned long long *) = val; break;
			default: *va_arg(args, unsigned int *) = val; break;
			}
			num++;
		}
	}
	return num;
}

int sscanf(const char *buf, const char *fmt, ...)
{
	va_list args;
	int i;

	va_start(args, fmt);
	i = vsscanf(buf, fmt, args);
	va_end(args);
	return i;
}
