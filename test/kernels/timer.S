# timer.S — interrupts from the 8254 through the 8259: remap the PICs to
# vectors 0x20–0x2F, program PIT channel 0 as a rate generator (mode 2) at
# ~100 Hz (count 11932), enable interrupts and HLT until the IRQ0 handler has
# counted 10 ticks (it prints a dot and sends a non-specific EOI each time),
# then print the count and exit with 0x11 (exit status 35).
        .include "common.inc"
        MULTIBOOT_HEADER

        .set TICKS_WANTED, 10
        .set PIT_COUNT, 11932

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        call setup_gdt
        call setup_idt
        movl $0x20, %eax
        movl $irq0, %edx
        call set_gate
        movl $0x27, %eax                # IRQ7: the 8259's spurious vector
        movl $spurious, %edx
        call set_gate
        call pic_remap
        movb $0x34, %al                 # channel 0, LSB then MSB, mode 2, binary
        outb %al, $0x43
        movb $(PIT_COUNT & 0xff), %al
        outb %al, $0x40
        movb $(PIT_COUNT >> 8), %al
        outb %al, $0x40
        PRINT "timer: waiting for 10 ticks "
        sti
1:      hlt
        cmpl $TICKS_WANTED, ticks
        jb 1b
        cli
        PRINT "\ntimer: "
        movl ticks, %eax
        call putdec
        PRINT " ticks\n"
        movl $0x11, %eax
        jmp exit

irq0:
        pushl %eax
        incl ticks
        movb $'.', %al
        outb %al, $DEBUGCON
        movb $0x20, %al                 # OCW2: non-specific EOI
        outb %al, $0x20
        popl %eax
        iret

spurious:
        iret

        .data
ticks:  .long 0
