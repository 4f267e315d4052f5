/*
 * examples/lib/stdio.c — a printf-family formatter and buffered stdout.
 *
 * One formatting engine (format()) drives every entry point through an
 * output callback: a bounded string for snprintf, the stdout buffer for
 * printf, a small stack buffer flushed to a file descriptor for dprintf.
 * Integers are converted with 32-bit arithmetic unless the argument is a
 * long long, which uses the 64-bit helpers in libgcc.c.
 */
#include "libc.h"

struct sink {
	void (*put)(struct sink *s, const char *p, size_t n);
	char *buf;
	size_t len, cap;
	int fd;
};

static void put_pad(struct sink *s, char c, int n)
{
	char tmp[16];
	memset(tmp, c, sizeof tmp);
	while (n > 0) {
		int k = n > 16 ? 16 : n;
		s->put(s, tmp, (size_t)k);
		n -= k;
	}
}

enum { F_LEFT = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8, F_ALT = 16 };

/* Emits one number, digits already in reverse order in dig[0..nd). */
static int put_number(struct sink *s, const char *dig, int nd, const char *prefix,
		      int flags, int width, int prec)
{
	int plen = (int)strlen(prefix);
	int zeros = prec > nd ? prec - nd : 0;
	int total = plen + zeros + nd;
	int pad = width > total ? width - total : 0;
	if ((flags & F_ZERO) && !(flags & F_LEFT) && prec < 0) {
		zeros += pad;
		pad = 0;
	}
	if (!(flags & F_LEFT))
		put_pad(s, ' ', pad);
	if (plen)
		s->put(s, prefix, (size_t)plen);
	put_pad(s, '0', zeros);
	char out[24];
	for (int i = 0; i < nd; i++)
		out[i] = dig[nd - 1 - i];
	s->put(s, out, (size_t)nd);
	if (flags & F_LEFT)
		put_pad(s, ' ', pad);
	return plen + zeros + nd + pad;
}

static int format(struct sink *s, const char *fmt, va_list ap)
{
	int count = 0;
	while (*fmt) {
		if (*fmt != '%') {
			const char *start = fmt;
			while (*fmt && *fmt != '%')
				fmt++;
			s->put(s, start, (size_t)(fmt - start));
			count += (int)(fmt - start);
			continue;
		}
		fmt++;
		int flags = 0;
		for (;; fmt++) {
			if (*fmt == '-') flags |= F_LEFT;
			else if (*fmt == '0') flags |= F_ZERO;
			else if (*fmt == '+') flags |= F_PLUS;
			else if (*fmt == ' ') flags |= F_SPACE;
			else if (*fmt == '#') flags |= F_ALT;
			else break;
		}
		int width = 0;
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= F_LEFT;
				width = -width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		int prec = -1;
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				if (prec < 0)
					prec = -1;
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					prec = prec * 10 + (*fmt++ - '0');
			}
		}
		int lng = 0; /* -2 hh, -1 h, 0 int, 1 l, 2 ll */
		for (;; fmt++) {
			if (*fmt == 'l') lng++;
			else if (*fmt == 'h') lng--;
			else if (*fmt == 'z') lng = 1;
			else break;
		}
		char conv = *fmt;
		if (!conv)
			break;
		fmt++;

		switch (conv) {
		case '%':
			s->put(s, "%", 1);
			count++;
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			int pad = width > 1 ? width - 1 : 0;
			if (!(flags & F_LEFT))
				put_pad(s, ' ', pad);
			s->put(s, &c, 1);
			if (flags & F_LEFT)
				put_pad(s, ' ', pad);
			count += 1 + pad;
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int n = prec >= 0 ? (int)strnlen(str, (size_t)prec) : (int)strlen(str);
			int pad = width > n ? width - n : 0;
			if (!(flags & F_LEFT))
				put_pad(s, ' ', pad);
			s->put(s, str, (size_t)n);
			if (flags & F_LEFT)
				put_pad(s, ' ', pad);
			count += n + pad;
			break;
		}
		case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': case 'p': {
			unsigned base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X' || conv == 'p') ? 16 : 10;
			const char *digits = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
			int neg = 0;
			char dig[24];
			int nd = 0;
			const char *prefix = "";
			if (conv == 'p') {
				flags |= F_ALT;
				lng = 0;
			}
			if (lng >= 2) {
				unsigned long long v;
				if (conv == 'd' || conv == 'i') {
					long long sv = va_arg(ap, long long);
					neg = sv < 0;
					v = neg ? 0ull - (unsigned long long)sv : (unsigned long long)sv;
				} else {
					v = va_arg(ap, unsigned long long);
				}
				while (v) {
					dig[nd++] = digits[v % base];
					v /= base;
				}
			} else {
				unsigned v;
				if (conv == 'd' || conv == 'i') {
					int sv = va_arg(ap, int);
					if (lng == -1) sv = (short)sv;
					if (lng == -2) sv = (signed char)sv;
					neg = sv < 0;
					v = neg ? 0u - (unsigned)sv : (unsigned)sv;
				} else {
					v = va_arg(ap, unsigned);
					if (lng == -1) v = (unsigned short)v;
					if (lng == -2) v = (unsigned char)v;
				}
				if (conv == 'p' && v == 0) {
					const char *nil = "(nil)";
					int pad = width > 5 ? width - 5 : 0;
					if (!(flags & F_LEFT))
						put_pad(s, ' ', pad);
					s->put(s, nil, 5);
					if (flags & F_LEFT)
						put_pad(s, ' ', pad);
					count += 5 + pad;
					break;
				}
				while (v) {
					dig[nd++] = digits[v % base];
					v /= base;
				}
			}
			/* C: precision 0 with value 0 prints no digits. */
			if (nd == 0 && prec != 0)
				dig[nd++] = '0';
			if (conv == 'd' || conv == 'i')
				prefix = neg ? "-" : (flags & F_PLUS) ? "+" : (flags & F_SPACE) ? " " : "";
			else if ((flags & F_ALT) && nd && !(nd == 1 && dig[0] == '0' && conv != 'p'))
				prefix = base == 16 ? (conv == 'X' ? "0X" : "0x") : base == 8 ? "0" : "";
			if (base == 8 && *prefix && prec > nd)
				prefix = "";
			count += put_number(s, dig, nd, prefix, flags, width, prec);
			break;
		}
		default:
			/* Unknown conversion: print it as written. */
			s->put(s, "%", 1);
			s->put(s, &conv, 1);
			count += 2;
			break;
		}
	}
	return count;
}

/* ---- snprintf ---- */

static void put_str(struct sink *s, const char *p, size_t n)
{
	if (s->cap == 0)
		return;
	size_t room = s->cap - 1 - s->len;
	if (n > room)
		n = room;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { put_str, buf, 0, size, -1 };
	int n = format(&s, fmt, ap);
	if (size)
		buf[s.len] = 0;
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, 0x7fffffff, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- stdout (buffered) ---- */

#define STDOUT_BUF 4096
static char stdout_buf[STDOUT_BUF];
static size_t stdout_len;
static int stdout_error;

int fflush_stdout(void)
{
	if (stdout_len && write_all(1, stdout_buf, stdout_len) < 0)
		stdout_error = 1;
	stdout_len = 0;
	return stdout_error ? -1 : 0;
}

static void put_stdout(struct sink *s, const char *p, size_t n)
{
	(void)s;
	while (n) {
		if (stdout_len == STDOUT_BUF)
			fflush_stdout();
		size_t k = STDOUT_BUF - stdout_len;
		if (k > n)
			k = n;
		memcpy(stdout_buf + stdout_len, p, k);
		stdout_len += k;
		p += k;
		n -= k;
	}
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink s = { put_stdout, 0, 0, 0, 1 };
	return format(&s, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int puts(const char *str)
{
	struct sink s = { put_stdout, 0, 0, 0, 1 };
	size_t n = strlen(str);
	put_stdout(&s, str, n);
	put_stdout(&s, "\n", 1);
	return (int)n + 1;
}

int putchar(int c)
{
	char ch = (char)c;
	struct sink s = { put_stdout, 0, 0, 0, 1 };
	put_stdout(&s, &ch, 1);
	return (unsigned char)ch;
}

/* ---- dprintf (unbuffered beyond one call) ---- */

static void put_fd(struct sink *s, const char *p, size_t n)
{
	while (n) {
		if (s->len == s->cap) {
			write_all(s->fd, s->buf, s->len);
			s->len = 0;
		}
		size_t k = s->cap - s->len;
		if (k > n)
			k = n;
		memcpy(s->buf + s->len, p, k);
		s->len += k;
		p += k;
		n -= k;
	}
}

int dprintf(int fd, const char *fmt, ...)
{
	char tmp[256];
	struct sink s = { put_fd, tmp, 0, sizeof tmp, fd };
	if (fd == 1)
		fflush_stdout();
	va_list ap;
	va_start(ap, fmt);
	int n = format(&s, fmt, ap);
	va_end(ap);
	if (s.len)
		write_all(fd, tmp, s.len);
	return n;
}
