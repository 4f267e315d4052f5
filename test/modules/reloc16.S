/* A 16-bit absolute relocation (R_386_16): valid ELF, refused by the module loader. */
	.text
	.globl init_module
init_module:
	ret
	.data
	.word init_module
