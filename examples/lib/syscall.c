/*
 * examples/lib/syscall.c — wrappers for the system calls kmemsim serves.
 * sys_*() return the kernel's raw result; the POSIX names map -errno to
 * -1 + errno.
 */
#include "libc.h"

int errno;

static long ret_errno(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

long sys_read(int fd, void *buf, size_t len) { return syscall3(SYS_read, fd, buf, len); }
long sys_write(int fd, const void *buf, size_t len) { return syscall3(SYS_write, fd, buf, len); }
long sys_brk(void *addr) { return syscall1(SYS_brk, addr); }
long sys_munmap(void *addr, size_t len) { return syscall2(SYS_munmap, addr, len); }
long sys_getpid(void) { return syscall0(SYS_getpid); }
long sys_uname(struct utsname *u) { return syscall1(SYS_uname, u); }
long sys_time(time_t *t) { return syscall1(SYS_time, t); }
long sys_gettimeofday(struct timeval *tv, struct timezone *tz) { return syscall2(SYS_gettimeofday, tv, tz); }

long sys_mmap2(void *addr, size_t len, int prot, int flags, int fd, long pgoff)
{
	return __syscall6(SYS_mmap2, (long)addr, (long)len, prot, flags, fd, pgoff);
}

void sys_exit(int status)
{
	for (;;)
		syscall1(SYS_exit, status);
}

void sys_exit_group(int status)
{
	for (;;)
		syscall1(SYS_exit_group, status);
}

ssize_t read(int fd, void *buf, size_t len) { return ret_errno(sys_read(fd, buf, len)); }
ssize_t write(int fd, const void *buf, size_t len) { return ret_errno(sys_write(fd, buf, len)); }
pid_t getpid(void) { return sys_getpid(); }
int uname(struct utsname *u) { return ret_errno(sys_uname(u)); }
int gettimeofday(struct timeval *tv, struct timezone *tz) { return ret_errno(sys_gettimeofday(tv, tz)); }
int munmap(void *addr, size_t len) { return ret_errno(sys_munmap(addr, len)); }

time_t time(time_t *t)
{
	return ret_errno(sys_time(t));
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, long offset)
{
	if (offset & (PAGE_SIZE - 1)) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	long r = sys_mmap2(addr, len, prot, flags, fd, offset / (long)PAGE_SIZE);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}

/*
 * The brk system call returns the new break on success and the old one on
 * failure (it never returns -errno), so both wrappers compare.
 */
static uintptr_t cur_brk;

int brk(void *addr)
{
	uintptr_t r = (uintptr_t)sys_brk(addr);
	cur_brk = r;
	if (r < (uintptr_t)addr) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void *sbrk(intptr_t increment)
{
	if (cur_brk == 0)
		cur_brk = (uintptr_t)sys_brk(0);
	uintptr_t old = cur_brk;
	if (increment == 0)
		return (void *)old;
	uintptr_t want = old + (uintptr_t)increment;
	if ((increment > 0 && want < old) || (increment < 0 && want > old)) {
		errno = ENOMEM;
		return (void *)-1;
	}
	uintptr_t r = (uintptr_t)sys_brk((void *)want);
	cur_brk = r;
	if (r != want) {
		errno = ENOMEM;
		return (void *)-1;
	}
	return (void *)old;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		long n = sys_write(fd, p, len);
		if (n < 0) {
			errno = (int)-n;
			return -1;
		}
		if (n == 0) {
			errno = EFAULT;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
