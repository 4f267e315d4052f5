/*
 * Every relocation type the module loader applies, plus COMMON symbols,
 * .bss, section alignment and a weak undefined symbol. Assembled with
 * `as --32`; test/module/loader.test.ts checks the patched values.
 */
	.text
	.globl init_module
	.type init_module, @function
init_module:
	call ext_fn@PLT           /* R_386_PLT32 to a kernel export */
	movl %eax, %edx
	call helper               /* R_386_PC32 to a global in another section */
	addl %eax, %edx
	movl table+8, %eax        /* R_386_32 with addend 8 (in place) */
	addl %edx, %eax
	movl $common_a, %ecx      /* R_386_32 to a COMMON symbol */
	movl $0x55, (%ecx)
	ret
	.size init_module, .-init_module

	.section .text.helper,"ax",@progbits
	.globl helper
	.type helper, @function
helper:
	movl $0x1000, %eax
	ret
	.size helper, .-helper

	.data
	.globl table
	.p2align 2
table:
	.long helper              /* [0] R_386_32: a function's address */
	.long ext_fn              /* [1] R_386_32: an export's address */
	.long 0x11223344          /* [2] plain data */
	.long table+4             /* [3] R_386_32 with addend 4 */
	.long ext_fn - .          /* [4] R_386_PC32 in data */
	.long maybe               /* [5] weak undefined: 0 */
	.long bss_x               /* [6] .bss */
	.long common_b            /* [7] COMMON */
	.long ro_string           /* [8] .rodata */

	.section .data.aligned,"aw",@progbits
	.p2align 8
	.globl aligned256
aligned256:
	.long 0xa11a

	.section .rodata
	.globl ro_string
ro_string:
	.asciz "read-only"

	.bss
	.globl bss_x
	.p2align 4
bss_x:
	.skip 64

	.comm common_a, 100, 32
	.comm common_b, 8, 8
	.weak maybe
