/*
 * Loads of never-written stack bytes for the dead-load rule (src/shadow/dead-load.ts,
 * test/shadow/dead-load.test.ts): the `dead_*` functions load padding into a register
 * that is overwritten before any read (gcc's `pop %reg` releasing stack space) — no
 * finding; the `live_*` ones use the loaded value, or may (EAX at a RET can be the
 * return value) — each one finding, at the load.
 */
	.text
	.globl init_module
init_module:
	call dead_overwritten
	call dead_ecx_at_ret
	call dead_zeroed
	call dead_after_unrelated
	call live_used
	call live_at_ret
	call live_call_argument
	xorl %eax, %eax
	ret

dead_overwritten:                 /* pop, then a MOV writes the whole register */
	subl $4, %esp
	popl %eax
	movl $7, %eax
	ret

dead_ecx_at_ret:                  /* pop %ecx, then RET: no convention returns a value in ECX */
	pushl %ebx
	subl $4, %esp
	popl %ecx
	popl %ebx
	ret

dead_zeroed:                      /* a MOV load, then the XOR zeroing idiom */
	subl $8, %esp
	movl 4(%esp), %edx
	xorl %edx, %edx
	addl $8, %esp
	ret

dead_after_unrelated:             /* other registers' work in between, then POP into it */
	pushl %ebx
	subl $4, %esp
	popl %edx
	movl $3, %ebx
	addl %ebx, %ecx
	leal 4(%ebx), %eax
	nop
	popl %edx
	ret

live_used:                        /* the loaded value is added in: a real use */
	subl $4, %esp
	popl %edx
	addl %edx, %eax
	xorl %eax, %eax
	ret

live_at_ret:                      /* pop %eax; ret: EAX may be the function's value */
	subl $4, %esp
	popl %eax
	ret

live_call_argument:               /* the value may be an argument of the call (regparm: EDX) */
	subl $4, %esp
	popl %edx
	call dead_overwritten
	ret
