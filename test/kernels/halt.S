# halt.S — prints a line, then CLI; HLT: with interrupts disabled nothing can
# wake the processor, so kmemsim stops the machine cleanly (exit status 0).
# (QEMU would sit there forever; its test kills it.)
        .include "common.inc"
        MULTIBOOT_HEADER

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        PRINT "Halting with interrupts disabled\n"
        cli
1:      hlt
        jmp 1b
