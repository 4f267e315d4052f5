# debug.S — the debug machinery's corners (Intel SDM Vol. 3 §17.2–17.3), with
# the output compared against qemu-system-i386:
#
#   1. DR6 and DR7 reserved bits: after writing 0, DR6 reads 0xffff0ff0 and
#      DR7 0x00000400;
#   2. single-stepping over INT n and INT3: no #DB at the handler's first
#      instruction, the handler runs with TF clear, and after its IRET the
#      next trap follows the instruction after the INT (the #DB handler
#      records each trap's EIP as an offset from `stepped`);
#   3. MOV from DR4 with CR4.DE = 1 is #UD (the handler skips it).
#
# DR7.GD (general detect) is left to test/system/debug-corners.test.ts: QEMU's
# TCG does not model it (with GD set, MOV DRn runs without a #DB), so there is
# nothing to compare with.
# Exits with 0x15 (status 43).
        .include "common.inc"
        MULTIBOOT_HEADER

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        call setup_gdt
        call setup_idt
        movl $1, %eax
        movl $db_handler, %edx
        call set_gate
        movl $3, %eax
        movl $int_handler, %edx
        call set_gate
        movl $6, %eax
        movl $ud_handler, %edx
        call set_gate
        movl $0x41, %eax
        movl $int_handler, %edx
        call set_gate

        # 1. Reserved bits.
        xorl %eax, %eax
        movl %eax, %dr6
        movl %eax, %dr7
        PRINT "dr6=0x"
        movl %dr6, %eax
        call puthex
        PRINT " dr7=0x"
        movl %dr7, %eax
        call puthex
        PRINT "\n"

        # 2. Single-step over INT 0x41 and INT3.
        pushfl
        orl $0x100, (%esp)
        popfl
stepped:
        nop
        int $0x41
        nop
        nop
        int3
        nop
        pushfl
        andl $~0x100, (%esp)
        popfl
        PRINT "traps at:"
        xorl %ecx, %ecx
1:      cmpl ntraps, %ecx
        jae 2f
        movb $' ', %al
        call putc_e9
        movl traps(, %ecx, 4), %eax
        subl $stepped, %eax
        call putdec
        incl %ecx
        jmp 1b
2:      PRINT "\nhandler ran "
        movl nints, %eax
        call putdec
        PRINT " times, with tf="
        movl int_tf, %eax
        call putdec
        PRINT "; dr6 at the last trap=0x"
        movl last_dr6, %eax
        call puthex
        PRINT "\n"

        # 3. DR4 with CR4.DE = 1.
        movl %cr4, %eax
        orl $8, %eax
        movl %eax, %cr4
        movl %dr4, %eax
        PRINT "#UD count after mov from dr4 with cr4.de=1: "
        movl nud, %eax
        call putdec
        PRINT "\n"
        movl %cr4, %eax
        andl $~8, %eax
        movl %eax, %cr4

        movl $0x15, %eax
        jmp exit

# #DB: record the trap's EIP and DR6, clear DR6, IRET.
db_handler:
        pushl %eax
        pushl %ecx
        movl %dr6, %eax
        movl %eax, last_dr6
        movl ntraps, %ecx
        cmpl $16, %ecx
        jae 2f
        movl 8(%esp), %eax
        movl %eax, traps(, %ecx, 4)
        incl ntraps
2:      xorl %eax, %eax
        movl %eax, %dr6
        popl %ecx
        popl %eax
        iret

# INT 0x41 and INT3: count, note TF, IRET.
int_handler:
        pushl %eax
        incl nints
        pushfl
        popl %eax
        shrl $8, %eax
        andl $1, %eax
        orl %eax, int_tf
        popl %eax
        iret

# #UD: count and skip the 3-byte MOV from DR4.
ud_handler:
        incl nud
        addl $3, (%esp)
        iret

        .data
        .balign 4
ntraps: .long 0
traps:  .skip 64
nints:  .long 0
int_tf: .long 0
nud:    .long 0
last_dr6: .long 0
