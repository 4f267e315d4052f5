# mbinfo.S — prints what the boot loader handed over: EAX, the Multiboot
# information flags, mem_lower/mem_upper, every memory-map entry and the
# boot loader name, then exits with 0x13 (status 39). The values differ
# between boot loaders (QEMU reports its own name and map), so this kernel
# checks kmemsim's loader against the Multiboot spec, not against QEMU.
        .include "common.inc"
        MULTIBOOT_HEADER

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        movl %eax, %edi
        PRINT "eax=0x"
        movl %edi, %eax
        call puthex
        PRINT " flags=0x"
        movl 0(%ebx), %eax
        call puthex
        PRINT "\nmem_lower="
        movl 4(%ebx), %eax
        call putdec
        PRINT " mem_upper="
        movl 8(%ebx), %eax
        call putdec
        PRINT "\n"
        # Memory map: entries of {size, base (64), length (64), type}; size excludes itself.
        movl 48(%ebx), %esi             # mmap_addr
        movl 44(%ebx), %ecx             # mmap_length
        addl %esi, %ecx
1:      cmpl %ecx, %esi
        jae 2f
        PRINT "mmap base=0x"
        movl 4(%esi), %eax
        call puthex
        PRINT " length=0x"
        movl 12(%esi), %eax
        call puthex
        PRINT " type="
        movl 20(%esi), %eax
        call putdec
        PRINT "\n"
        addl 0(%esi), %esi
        addl $4, %esi
        jmp 1b
2:      PRINT "loader="
        movl 64(%ebx), %esi
        call puts_e9
        PRINT "\n"
        movl $0x13, %eax
        jmp exit
