# hello.S — the smallest useful Multiboot kernel: says hello on QEMU's debug
# console (port 0xE9) and on COM1, then exits through isa-debug-exit with
# value 0x10 (exit status (0x10 << 1) | 1 = 33).
        .include "common.inc"
        MULTIBOOT_HEADER

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        movl $msg, %esi
        call puts_e9
        call serial_init
        movl $msg, %esi
        call puts_serial
        movl $0x10, %eax
        jmp exit

        .section .rodata
msg:    .asciz "Hello from kmemsim boot\n"
