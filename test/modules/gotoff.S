/* PIC-style references the i386 module loader does not handle (R_386_GOTPC, R_386_GOTOFF). */
	.text
	.globl init_module
init_module:
	addl $_GLOBAL_OFFSET_TABLE_, %ebx
	movl local@GOTOFF(%ebx), %eax
	ret
	.data
local:	.long 1
