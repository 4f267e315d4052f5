/*
 * <linux/uaccess.h>: copying between the kernel and the calling process's
 * memory. The kernel checks the user range (below TASK_SIZE, 0xC0000000),
 * faults in the demand-paged pages the process's mappings allow, and copies
 * what it can: copy_to_user()/copy_from_user() return the number of bytes
 * NOT copied (0 on success; copy_from_user() zeroes the rest, as Linux's),
 * get_user()/put_user() return 0 or -EFAULT. In a module run without user
 * processes every user address is bad.
 */
#ifndef _LINUX_UACCESS_H
#define _LINUX_UACCESS_H
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <asm/page.h>

unsigned long copy_to_user(void __user *to, const void *from, unsigned long n);
unsigned long copy_from_user(void *to, const void __user *from, unsigned long n);
unsigned long clear_user(void __user *to, unsigned long n);
long strncpy_from_user(char *dst, const char __user *src, long count);
long strnlen_user(const char __user *str, long n);
#define __copy_to_user copy_to_user
#define __copy_from_user copy_from_user
#define raw_copy_to_user copy_to_user
#define raw_copy_from_user copy_from_user
#define __clear_user clear_user

static inline bool __access_ok(const void __user *addr, unsigned long size)
{
	unsigned long a = (unsigned long)addr;

	return size <= TASK_SIZE && a <= TASK_SIZE - size;
}

/* access_ok(addr, size) since Linux 5.0; access_ok(type, addr, size) before. */
#define VERIFY_READ 0
#define VERIFY_WRITE 1
#define __access_ok_2(addr, size) __access_ok((const void __user *)(addr), (size))
#define __access_ok_3(type, addr, size) __access_ok((const void __user *)(addr), (size))
#define __access_ok_pick(_1, _2, _3, name, ...) name
#define access_ok(...) __access_ok_pick(__VA_ARGS__, __access_ok_3, __access_ok_2, _)(__VA_ARGS__)

/*
 * get_user(x, ptr) and put_user(x, ptr) for 1, 2 and 4-byte objects call the
 * kernel's __get_user_N/__put_user_N with arch/x86's register convention:
 * the address in EAX (get) or ECX (put, the value in EAX); the error in EAX,
 * the value read in EDX.
 */
#define get_user(x, ptr) ({						\
	int __ret_gu;							\
	unsigned long __val_gu;						\
	__asm__ __volatile__("call __get_user_%c[size]"			\
		: "=a"(__ret_gu), "=d"(__val_gu)			\
		: "0"(ptr), [size] "i"(sizeof(*(ptr)))			\
		: "ecx", "memory", "cc");				\
	(x) = (__force __typeof__(*(ptr)))__val_gu;			\
	__ret_gu;							\
})

#define put_user(x, ptr) ({						\
	int __ret_pu;							\
	__typeof__(*(ptr)) __pu_val = (x);				\
	__asm__ __volatile__("call __put_user_%c[size]"			\
		: "=a"(__ret_pu)					\
		: "0"((unsigned long)__pu_val), "c"(ptr),		\
		  [size] "i"(sizeof(*(ptr)))				\
		: "edx", "memory", "cc");				\
	__ret_pu;							\
})

#define __get_user(x, ptr) get_user(x, ptr)
#define __put_user(x, ptr) put_user(x, ptr)

#endif
