/*
 * examples/lib/start.S — process entry and the system-call trampoline for
 * the freestanding example runtime.
 *
 * The Linux i386 ABI (create_elf_tables() in fs/binfmt_elf.c) starts a static
 * executable with:
 *
 *     (%esp)          argc
 *     4(%esp)         argv[0] ... argv[argc-1], NULL
 *     8+4*argc(%esp)  envp[0] ... NULL
 *                     auxv pairs ..., AT_NULL
 *
 * and every general register other than %esp undefined (Linux zeroes them;
 * we do not rely on it). _start clears %ebp to end the frame chain, aligns
 * the stack to 16 bytes as the i386 psABI expects at a call, and hands the
 * three values to __libc_start(argc, argv, envp), which never returns.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
	xorl	%ebp, %ebp
	movl	(%esp), %eax		/* argc */
	leal	4(%esp), %edx		/* argv */
	leal	8(%esp,%eax,4), %ecx	/* envp = argv + argc + 1 */
	andl	$-16, %esp
	subl	$4, %esp		/* 4 + 3*4 = 16: aligned at the call */
	pushl	%ecx
	pushl	%edx
	pushl	%eax
	call	__libc_start
	hlt				/* not reached: __libc_start exits */
	.size	_start, .-_start

/*
 * long __syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
 *
 * Linux i386 int $0x80 convention: number in %eax, arguments in %ebx, %ecx,
 * %edx, %esi, %edi, %ebp; result (or -errno) in %eax. %ebx, %esi, %edi and
 * %ebp are callee-saved in the C ABI, so they are saved around the trap.
 * Callers always pass all six arguments (zeros when unused), so nothing
 * uninitialized is ever loaded.
 */
	.globl	__syscall6
	.type	__syscall6, @function
__syscall6:
	pushl	%ebp
	pushl	%edi
	pushl	%esi
	pushl	%ebx
	movl	20(%esp), %eax
	movl	24(%esp), %ebx
	movl	28(%esp), %ecx
	movl	32(%esp), %edx
	movl	36(%esp), %esi
	movl	40(%esp), %edi
	movl	44(%esp), %ebp
	int	$0x80
	popl	%ebx
	popl	%esi
	popl	%edi
	popl	%ebp
	ret
	.size	__syscall6, .-__syscall6

	.section .note.GNU-stack,"",@progbits
