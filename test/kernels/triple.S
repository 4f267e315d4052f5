# triple.S — a triple fault. The IDT holds a single (null) entry, IDTR.limit
# = 7, and the kernel executes INT3: vector 3 lies beyond the limit → #GP;
# #GP's own vector is beyond the limit too → #GP while delivering #GP, two
# contributory exceptions → #DF; #DF's vector is beyond the limit → a fault
# while delivering #DF: triple fault, the processor shuts down (kmemsim exit
# status 125; QEMU with -no-reboot exits 0).
# (Limit 7 rather than 0: kmemsim's CPU takes IDTR.limit = 0 to mean "no IDT
# installed" and stops with that message instead of raising #GP.)
        .include "common.inc"
        MULTIBOOT_HEADER

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        call setup_gdt
        PRINT "About to triple fault\n"
        lidt tiny_idt_desc
        int3
        PRINT "still alive?!\n"
        movl $0x7d, %eax
        jmp exit

        .data
        .balign 8
tiny_idt:
        .quad 0
tiny_idt_desc:
        .word 7
        .long tiny_idt
