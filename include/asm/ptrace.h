/*
 * <asm/ptrace.h>: i386's struct pt_regs, as arch/x86/include/asm/ptrace.h
 * lays it out for 32-bit kernels — what kprobe handlers get. A kprobe's
 * pre_handler sees `ip` = the probe address + 1 (after the int3, as on
 * Linux x86), `sp` the stack pointer at the probed instruction (at a
 * function's entry, [sp] is the return address), `ax` … `bp` the
 * registers; a kretprobe handler sees `ax` = the return value and `ip` =
 * the real return address. Changes a handler makes are what the probed
 * code resumes with.
 */
#ifndef _ASM_X86_PTRACE_H
#define _ASM_X86_PTRACE_H

struct pt_regs {
	unsigned long bx;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long bp;
	unsigned long ax;
	unsigned long ds;
	unsigned long es;
	unsigned long fs;
	unsigned long gs;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};

static inline unsigned long regs_return_value(struct pt_regs *regs) { return regs->ax; }
static inline void regs_set_return_value(struct pt_regs *regs, unsigned long rc) { regs->ax = rc; }
static inline unsigned long instruction_pointer(struct pt_regs *regs) { return regs->ip; }
static inline void instruction_pointer_set(struct pt_regs *regs, unsigned long val) { regs->ip = val; }
static inline unsigned long kernel_stack_pointer(struct pt_regs *regs) { return regs->sp; }
static inline unsigned long user_stack_pointer(struct pt_regs *regs) { return regs->sp; }
static inline unsigned long frame_pointer(struct pt_regs *regs) { return regs->bp; }
static inline int user_mode(struct pt_regs *regs) { return (regs->cs & 3) == 3; }
#define GET_IP(regs) ((regs)->ip)
#define profile_pc(regs) instruction_pointer(regs)

/* The register at byte `offset` of the pt_regs (offsetof(struct pt_regs, ...)), 0 past its end. */
static inline unsigned long regs_get_register(struct pt_regs *regs, unsigned int offset)
{
	if (offset > sizeof(struct pt_regs) - sizeof(unsigned long))
		return 0;
	return *(unsigned long *)((char *)regs + offset);
}

/* The n-th word of the kernel stack at regs->sp. */
static inline unsigned long regs_get_kernel_stack_nth(struct pt_regs *regs, unsigned int n)
{
	unsigned long *addr = (unsigned long *)kernel_stack_pointer(regs);
	return addr[n];
}

/*
 * The n-th argument of the probed function at its entry, in i386's
 * regparm(3) order: ax, dx, cx, then the stack above the return address.
 */
static inline unsigned long regs_get_kernel_argument(struct pt_regs *regs, unsigned int n)
{
	static const unsigned int argument_offs[] = {
		__builtin_offsetof(struct pt_regs, ax),
		__builtin_offsetof(struct pt_regs, dx),
		__builtin_offsetof(struct pt_regs, cx),
	};
	if (n >= 3)
		return regs_get_kernel_stack_nth(regs, n - 3 + 1);
	return regs_get_register(regs, argument_offs[n]);
}

#endif
