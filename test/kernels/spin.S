# spin.S — waits for a debugger: spins until the word `go` is non-zero,
# then exits through isa-debug-exit with that value (status (go << 1) | 1).
# test/gdb/boot-gdb.test.ts boots it with `kmemsim boot --gdb` (no -S: it
# runs until gdb connects), writes `go` from gdb and continues.
        .include "common.inc"
        MULTIBOOT_HEADER

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        PRINT "Spinning until go is set\n"
        xorl %ecx, %ecx
spin:
        incl %ecx
        movl go, %eax
        testl %eax, %eax
        jz spin
        jmp exit

        .data
        .globl go
        .align 4
go:     .long 0
