/* References three symbols nobody defines and one weak one: the loader must name all three. */
	.text
	.globl init_module
init_module:
	call missing_function
	movl missing_data, %eax
	call ext_fn
	ret
	.data
	.long another_missing
	.long missing_function
	.weak optional_thing
	.long optional_thing
