/*
 * examples/lib/libc.h — the whole API of kmemsim's tiny freestanding runtime
 * for example guests (static i386 user programs, Linux int $0x80 ABI).
 *
 * Only the system calls kmemsim serves are wrapped: exit(1), read(3),
 * write(4), time(13), getpid(20), brk(45), gettimeofday(78), munmap(91),
 * uname(122), mmap2(192), exit_group(252). Anything else returns -ENOSYS
 * under kmemsim.
 *
 * Conventions: sys_*() return the raw kernel result (-errno on failure);
 * the POSIX-named wrappers (read, write, ...) return -1 and set errno.
 * stdout is fully buffered (flushed by fflush(), when the buffer fills, and
 * at exit); stderr is unbuffered.
 *
 * Only gcc's freestanding headers are used (stddef.h, stdint.h, stdarg.h),
 * so the host's 64-bit libc headers are never involved.
 */
#ifndef KMEMSIM_EXAMPLES_LIBC_H
#define KMEMSIM_EXAMPLES_LIBC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- system calls (syscall.c) ------------------------------------------ */

#define SYS_exit          1
#define SYS_read          3
#define SYS_write         4
#define SYS_time          13
#define SYS_getpid        20
#define SYS_kill          37
#define SYS_brk           45
#define SYS_gettimeofday  78
#define SYS_munmap        91
#define SYS_uname         122
#define SYS_mmap2         192
#define SYS_exit_group    252

#define ENOENT   2
#define EBADF    9
#define ENOMEM   12
#define EFAULT   14
#define EINVAL   22
#define ENOSYS   38

#define PROT_NONE     0
#define PROT_READ     1
#define PROT_WRITE    2
#define PROT_EXEC     4
#define MAP_SHARED    0x01
#define MAP_PRIVATE   0x02
#define MAP_FIXED     0x10
#define MAP_ANONYMOUS 0x20
#define MAP_FAILED    ((void *)-1)

#define PAGE_SIZE 4096u

typedef int32_t ssize_t;
typedef int32_t pid_t;
typedef int32_t time_t;

struct timeval {
	int32_t tv_sec;
	int32_t tv_usec;
};

struct timezone {
	int32_t tz_minuteswest;
	int32_t tz_dsttime;
};

/* struct new_utsname: six fields of 65 bytes (__NEW_UTS_LEN + 1). */
struct utsname {
	char sysname[65];
	char nodename[65];
	char release[65];
	char version[65];
	char machine[65];
	char domainname[65];
};

extern int errno;

/* The trampoline in start.S: number in %eax, arguments in ebx..ebp. */
long __syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

#define syscall0(n)             __syscall6((n), 0, 0, 0, 0, 0, 0)
#define syscall1(n, a)          __syscall6((n), (long)(a), 0, 0, 0, 0, 0)
#define syscall2(n, a, b)       __syscall6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define syscall3(n, a, b, c)    __syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* Raw: return what the kernel returned (-errno on failure). */
long sys_read(int fd, void *buf, size_t len);
long sys_write(int fd, const void *buf, size_t len);
long sys_brk(void *addr);
long sys_mmap2(void *addr, size_t len, int prot, int flags, int fd, long pgoff);
long sys_munmap(void *addr, size_t len);
long sys_getpid(void);
long sys_uname(struct utsname *u);
long sys_time(time_t *t);
long sys_gettimeofday(struct timeval *tv, struct timezone *tz);
__attribute__((noreturn)) void sys_exit(int status);
__attribute__((noreturn)) void sys_exit_group(int status);

/* POSIX-style: -1 and errno on failure. */
ssize_t read(int fd, void *buf, size_t len);
ssize_t write(int fd, const void *buf, size_t len);
int brk(void *addr);
void *sbrk(intptr_t increment);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t len);
pid_t getpid(void);
int uname(struct utsname *u);
time_t time(time_t *t);
int gettimeofday(struct timeval *tv, struct timezone *tz);
/* Writes all of buf (retrying short writes); 0 or -1. */
int write_all(int fd, const void *buf, size_t len);

/* ---- strings and memory (string.c) ------------------------------------- */

size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *dst, const char *src);
char *strncpy(char *dst, const char *src, size_t n);
char *strcat(char *dst, const char *src);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);
char *strdup(const char *s);

/* ---- formatted output (stdio.c) ---------------------------------------- */

/*
 * Conversions: %d %i %u %x %X %o %s %c %p %%; flags - 0 + space #;
 * width and precision (also *); length modifiers hh h l ll z.
 */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sprintf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vprintf(const char *fmt, va_list ap);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int puts(const char *s);
int putchar(int c);
int fflush_stdout(void);
#define fflush(x) fflush_stdout()

/* ---- process, numbers, sorting (stdlib.c) ------------------------------ */

__attribute__((noreturn)) void exit(int status);
__attribute__((noreturn)) void _exit(int status);
__attribute__((noreturn)) void abort(void);
/* Runs at exit, after main returns or exit() is called (up to 8). */
int atexit(void (*fn)(void));
char *getenv(const char *name);
extern char **environ;

int atoi(const char *s);
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
int abs(int x);
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

#define assert(e) ((e) ? (void)0 : __assert_fail(#e, __FILE__, __LINE__))
__attribute__((noreturn)) void __assert_fail(const char *expr, const char *file, int line);

/* ---- heap (malloc.c) ---------------------------------------------------- */

/*
 * Small blocks come from size-class free lists carved out of the brk heap;
 * blocks of MALLOC_MMAP_THRESHOLD bytes or more get their own mmap2 mapping
 * and are munmap()ed on free.
 */
#define MALLOC_MMAP_THRESHOLD (64u * 1024u)
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);

struct malloc_stats {
	size_t brk_bytes;     /* bytes obtained from brk */
	size_t mmap_bytes;    /* bytes currently mapped for large blocks */
	size_t in_use;        /* bytes currently allocated (payload sizes) */
	unsigned mallocs, frees, mmaps, munmaps;
};
void malloc_get_stats(struct malloc_stats *st);

#endif
