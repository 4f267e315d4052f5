# pagefault.S — paging and #PF: identity-map the first 4 MiB with one page
# table, leave the page at 3 MiB not present, turn paging on and write to
# it. The #PF handler prints CR2 and the error code (0x00000002: a
# supervisor write to a not-present page) and exits with 0x12 (status 37).
        .include "common.inc"
        MULTIBOOT_HEADER

        .set HOLE, 0x300000

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        call setup_gdt
        call setup_idt
        movl $14, %eax
        movl $page_fault, %edx
        call set_gate
        # Page table 0: page i → frame i, present + writable.
        xorl %ecx, %ecx
1:      movl %ecx, %eax
        shll $12, %eax
        orl $3, %eax
        movl %eax, page_table(, %ecx, 4)
        incl %ecx
        cmpl $1024, %ecx
        jb 1b
        movl $0, page_table + (HOLE >> 12) * 4
        movl $page_table + 3, page_dir
        movl $page_dir, %eax
        movl %eax, %cr3
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0
        PRINT "paging on, touching 0x00300000\n"
        movl $0x1234, HOLE
        PRINT "no page fault?!\n"
        movl $0x7d, %eax
        jmp exit

page_fault:
        popl %ebx                       # the error code
        PRINT "page fault at 0x"
        movl %cr2, %eax
        call puthex
        PRINT " error 0x"
        movl %ebx, %eax
        call puthex
        PRINT "\n"
        movl $0x12, %eax
        jmp exit

        .section .bss
        .balign 4096
page_dir:
        .skip 4096
page_table:
        .skip 4096
