/*
 * Stack instructions for the CPL-1 stack tracker (test/rings/stack-tracker.test.ts):
 * each function is clean unless its name says "uninit".
 */
	.text
	.globl push_pop
push_pop:
	pushl %ebx
	movl $0x1234, %ebx
	pushl %ebx
	popl %eax
	popl %ebx
	ret

	.globl pusha_popa              /* PUSHA/POPA (POPA restores EAX = 0), then the restored ESI */
pusha_popa:
	movl $0x55, %esi
	pushal
	movl 4(%esp), %eax             /* the saved ESI */
	xorl %esi, %esi
	popal
	addl %esi, %eax                /* 0 + 0x55 */
	ret

	.globl pushf_popf              /* the EFLAGS image PUSHF stores must be the program's (no TF) */
pushf_popf:
	pushfl
	popfl
	pushfl
	popl %eax
	ret

	.globl call_ret
call_ret:
	call 1f
	addl $1, %eax
	ret
1:	movl $5, %eax
	ret

	.globl enter_leave
enter_leave:
	enter $16, $0
	movl $3, -4(%ebp)
	movl -4(%ebp), %eax
	leave
	ret

	.globl enter_uninit            /* reads a local ENTER allocated but nobody wrote */
enter_uninit:
	enter $16, $0
	movl -8(%ebp), %eax
	leave
	ret

	.globl pop_uninit              /* POPs a word nobody pushed (below ESP it was dead) */
pop_uninit:
	subl $4, %esp
	popl %eax
	ret

	.globl iret_same               /* IRET to the same privilege level */
iret_same:
	pushfl
	pushl %cs
	pushl $1f
	iretl
1:	movl $7, %eax
	ret

	.globl straddle                /* a dword across two stack pages, in a live 8 KiB frame: written, then read */
straddle:
	pushl %ebp
	movl %esp, %ebp
	subl $8192, %esp
	movl %ebp, %ecx
	andl $-4096, %ecx              /* a page boundary inside the frame */
	movl $0x12345678, -2(%ecx)
	movl -2(%ecx), %eax
	leave
	ret

	.globl straddle_uninit         /* the same dword read without being written */
straddle_uninit:
	pushl %ebp
	movl %esp, %ebp
	subl $8192, %esp
	movl %ebp, %ecx
	andl $-4096, %ecx
	movl -2(%ecx), %eax
	leave
	ret

	.globl sibling_calls           /* set_slot() writes its local, returns; read_slot() reads the same dead slot */
sibling_calls:
	call set_slot
	call read_slot
	ret
set_slot:
	subl $8, %esp
	movl $0x77, 4(%esp)
	addl $8, %esp
	ret
read_slot:
	subl $8, %esp
	movl 4(%esp), %eax             /* 0x77 left over, but dead since set_slot returned */
	addl $8, %esp
	ret

	.globl deep_clean              /* recursion 50 deep, every local written before read */
deep_clean:
	pushl %ebp
	movl %esp, %ebp
	subl $12, %esp
	movl %eax, -4(%ebp)
	testl %eax, %eax
	je 1f
	decl %eax
	call deep_clean
	addl -4(%ebp), %eax
	leave
	ret
1:	xorl %eax, %eax
	leave
	ret

	.globl printk_uninit_arg       /* printk("%d", <a stack slot nobody wrote>): the native's read is the finding */
printk_uninit_arg:
	subl $12, %esp
	movl $fmt, (%esp)
	call printk
	addl $12, %esp
	ret

	.globl printk_arg              /* the same with the argument written */
printk_arg:
	subl $12, %esp
	movl $fmt, (%esp)
	movl $99, 4(%esp)
	call printk
	addl $12, %esp
	ret

	.section .rodata
fmt:	.asciz "<6>arg=%d\n"
