/*
 * init_module halting the CPU (test/module/halt.test.ts): `halt_cli` with
 * interrupts disabled (nothing can wake it: exit status 125), `halt_sti`
 * with them enabled but no interrupt source in the module kernel (it would
 * wait forever: 124). The symbol set with --defsym picks which one
 * init_module runs; both return 0 if the HLT ever ended.
 */
	.text
	.globl init_module
init_module:
.ifdef WITH_STI
	sti
.else
	cli
.endif
	hlt
	xorl %eax, %eax
	ret
