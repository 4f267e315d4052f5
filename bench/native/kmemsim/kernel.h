/*
 * bench/native/kmemsim/kernel.h — the part of kmemsim's module API that the
 * benchmark modules use, on top of the C library, so that the same source
 * builds as an ordinary i386 program (gcc -m32 -static -include this
 * directory's driver, see bench/checkers.mjs). Native, qemu-i386 and
 * Valgrind then run the very workload kmemsim runs as a module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef unsigned int gfp_t;

#define GFP_KERNEL 0xd0u
#define KERN_INFO ""
#define asmlinkage

#define kmalloc(size, flags) malloc(size)
#define kzalloc(size, flags) calloc(1, size)
#define kfree(p) free(p)
#define printk printf

int init_module(void);
void cleanup_module(void);

int main(void)
{
	int r = init_module();
	if (r == 0)
		cleanup_module();
	return r < 0 ? 1 : 0;
}
