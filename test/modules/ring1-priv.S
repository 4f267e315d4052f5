/*
 * Privileged instructions, one function each, for the ring-1 kernel's
 * #GP emulation (test/rings/privileged.test.ts). At CPL 0 they simply run;
 * at CPL 1 each raises #GP(0) and the ring-0 handler emulates it.
 */
	.text
	.globl read_cs
read_cs:                          /* the CPL the code runs at is CS.RPL */
	movl %cs, %eax
	ret

	.globl read_ss
read_ss:
	movl %ss, %eax
	ret

	.globl cr_roundtrip           /* returns CR0; writes CR0 and CR3 back unchanged */
cr_roundtrip:
	pushl %ebx
	movl %cr3, %ebx
	movl %ebx, %cr3
	movl %cr0, %eax
	movl %eax, %cr0
	movl %cr4, %ecx
	movl %ecx, %cr4
	popl %ebx
	ret

	.globl read_cr3
read_cr3:
	movl %cr3, %eax
	ret

	.globl read_cr2_into_esp_safe /* MOV from CR2 into a register other than ESP */
read_cr2_into_esp_safe:
	movl %cr2, %edx
	movl %edx, %eax
	ret

	.globl set_dr0               /* DR0 = EAX, returns DR0 read back */
set_dr0:
	movl %eax, %db0
	xorl %eax, %eax
	movl %db0, %eax
	ret

	.globl do_invlpg             /* INVLPG (EAX) */
do_invlpg:
	invlpg (%eax)
	ret

	.globl reload_gdt_idt        /* SGDT/SIDT (not privileged) to a stack local, LGDT/LIDT from it */
reload_gdt_idt:
	subl $16, %esp
	sgdt (%esp)
	lgdt (%esp)
	sidt 8(%esp)
	lidt 8(%esp)
	movzwl (%esp), %eax          /* the GDT limit */
	addl $16, %esp
	ret

	.globl set_gdt_limit         /* LGDT with limit EAX, base as now; returns the old limit */
set_gdt_limit:
	subl $8, %esp
	sgdt (%esp)
	movzwl (%esp), %edx
	movw %ax, (%esp)
	lgdt (%esp)
	movl %edx, %eax
	addl $8, %esp
	ret

	.globl do_lldt               /* LLDT AX (register form) and LLDT m16 */
do_lldt:
	lldt %ax
	pushl %eax
	lldt (%esp)
	popl %eax
	sldt %ax
	ret

	.globl do_ltr                /* LTR AX */
do_ltr:
	ltr %ax
	str %ax
	ret

	.globl misc                  /* CLTS, WBINVD, INVD, LMSW (register and memory), CLI/STI, IN/OUT */
misc:
	clts
	wbinvd
	invd
	smsw %ax
	lmsw %ax
	pushl %eax
	lmsw (%esp)
	popl %eax
	cli
	sti
	movw $0x80, %dx
	inb %dx, %al
	outb %al, %dx
	pushfl
	popl %eax                    /* EFLAGS: IOPL in bits 12-13 */
	ret

	.globl do_hlt
do_hlt:
	cli
	hlt
	movl $42, %eax
	ret

	.globl do_mov_cr_bad         /* MOV CR0 with PG set and PE clear: #GP even at CPL 0 */
do_mov_cr_bad:
	movl $0x80000000, %eax
	movl %eax, %cr0
	ret

	.globl do_far_null           /* not emulable: a far JMP to the null selector is #GP(0) at any CPL */
do_far_null:
	ljmp $0, $0
	ret

	.globl load_ds_dpl0          /* MOV DS with a DPL-0 data selector at CPL 1: #GP(0x68) */
load_ds_dpl0:
	movl $0x68, %eax
	movw %ax, %ds
	ret

	.globl lgdt_at               /* LGDT (EAX) */
lgdt_at:
	lgdt (%eax)
	ret

	.globl overflow              /* unbounded recursion: runs into the guard page below the CPL-1 stack */
overflow:
	pushl %eax
	call overflow
	ret
