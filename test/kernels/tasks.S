# tasks.S — hardware task switches (Intel SDM Vol. 3 chapter 7), the way an
# i386 kernel uses them:
#
#   1. JMP to a TSS (task1), and task1's JMP back: busy bits move, the
#      registers of the first task come back from its TSS, CR0.TS is set;
#   2. CALL through a task gate in the GDT: task1 runs nested (NT = 1, its
#      back link names the caller) and its IRET returns to the caller;
#   3. INT 0x40 through a task gate in the IDT, IRET back;
#   4. a double fault on a bad stack through a task gate in the IDT (as
#      i386 Linux's doublefault_fn): paging on, ESP just above a page that is
#      not present, a push → #PF, whose delivery faults on the same stack →
#      #DF → the known-good task, which reads the error code from its own
#      stack and the faulting task's ESP, EIP and CR2, and exits with 0x14
#      (status 41).
#
# The output is the same under kmemsim and qemu-system-i386.
        .include "common.inc"
        MULTIBOOT_HEADER

        .set MAIN_TSS, 0x18
        .set TASK1_TSS, 0x20
        .set DF_TSS, 0x28
        .set TASK1_GATE, 0x30
        .set GUARD, 0x300000            # the page at 3 MiB is not present once paging is on

        .text
        .globl _start
_start:
        movl $stack_top, %esp
        call check_magic
        call setup_task_gdt
        call setup_idt
        # IDT: #DF and vector 0x40 are task gates.
        movl $(DF_TSS << 16), idt + 8 * 8
        movl $0x8500, idt + 8 * 8 + 4
        movl $(TASK1_TSS << 16), idt + 0x40 * 8
        movl $0x8500, idt + 0x40 * 8 + 4
        movl $MAIN_TSS, %eax
        ltr %ax
        clts

        # 1. JMP to task1 and back.
        PRINT "main: jmp to task1\n"
        movl $0x1234, %ebx
        ljmp $TASK1_TSS, $0
        PRINT "main: back after task1's jmp, ebx=0x"
        movl %ebx, %eax
        call puthex
        PRINT " cr0.ts="
        movl %cr0, %eax
        shrl $3, %eax
        andl $1, %eax
        call putdec
        call print_busy
        PRINT "\n"

        # 2. CALL through a task gate, IRET back.
        PRINT "main: call through the task gate\n"
        lcall $TASK1_GATE, $0
        PRINT "main: back after iret, nt="
        call print_nt
        call print_busy
        PRINT "\n"

        # 3. INT 0x40 through a task gate in the IDT.
        PRINT "main: int 0x40\n"
        movl $0x5678, %ebx
        int $0x40
        PRINT "main: back after iret, ebx=0x"
        movl %ebx, %eax
        call puthex
        call print_busy
        PRINT "\n"

        # 4. #DF on a bad stack → the double-fault task.
        call paging_on
        PRINT "main: paging on, esp=0x00301000, pushing into the not-present page below\n"
        movl $(GUARD + 0x1000), %esp
fault_here:
        pushl $0
        PRINT "no double fault?!\n"
        movl $0x7d, %eax
        jmp exit

# task1: each entry continues where its last switch away left it.
task1_entry:
        PRINT "task1: entered by jmp, nt="
        call print_nt
        PRINT " tr=0x"
        xorl %eax, %eax
        str %ax
        call puthex
        PRINT "\n"
        movl $0xdead, %ebx
        ljmp $MAIN_TSS, $0
        PRINT "task1: entered by call, nt="
        call print_nt
        PRINT " back link=0x"
        movzwl task1_tss, %eax
        call puthex
        call print_busy
        PRINT "\n"
        iret
        PRINT "task1: entered by int 0x40, nt="
        call print_nt
        PRINT " back link=0x"
        movzwl task1_tss, %eax
        call puthex
        PRINT "\n"
        movl $0xbeef, %ebx
        iret
        PRINT "task1: entered again?!\n"
        movl $0x7c, %eax
        jmp exit

# The double-fault task (a known-good stack, its own TSS).
df_entry:
        PRINT "double fault task: error code 0x"
        popl %eax
        call puthex
        PRINT " back link=0x"
        movzwl df_tss, %eax
        call puthex
        PRINT " nt="
        call print_nt
        PRINT "\nfaulting task: esp=0x"
        movl main_tss + 0x38, %eax
        call puthex
        PRINT " eip at fault_here: "
        movl main_tss + 0x20, %eax
        cmpl $fault_here, %eax
        sete %al
        movzbl %al, %eax
        call putdec
        PRINT " cr2=0x"
        movl %cr2, %eax
        call puthex
        PRINT "\n"
        movl $0x14, %eax
        jmp exit

# print_nt: EFLAGS.NT as 0 or 1.
print_nt:
        pushl %eax
        pushfl
        popl %eax
        shrl $14, %eax
        andl $1, %eax
        call putdec
        popl %eax
        ret

# print_busy: " busy=M,T" — the busy bits of the main and task1 TSS descriptors.
print_busy:
        pushl %eax
        PRINT " busy="
        movl gdt_tasks + MAIN_TSS + 4, %eax
        shrl $9, %eax
        andl $1, %eax
        call putdec
        movb $',', %al
        call putc_e9
        movl gdt_tasks + TASK1_TSS + 4, %eax
        shrl $9, %eax
        andl $1, %eax
        call putdec
        popl %eax
        ret

# set_tss_desc: GDT entry at offset %eax ← available 32-bit TSS, base %edx, limit 0x67.
set_tss_desc:
        pushl %ecx
        movl %edx, %ecx
        shll $16, %ecx
        orl $0x67, %ecx
        movl %ecx, gdt_tasks(%eax)
        movl %edx, %ecx
        andl $0xff000000, %ecx
        orl $0x00008900, %ecx
        pushl %edx
        shrl $16, %edx
        andl $0xff, %edx
        orl %edx, %ecx
        popl %edx
        movl %ecx, gdt_tasks + 4(%eax)
        popl %ecx
        ret

# setup_task_gdt: the flat segments, three TSS descriptors and a task gate, loaded.
setup_task_gdt:
        movl $MAIN_TSS, %eax
        movl $main_tss, %edx
        call set_tss_desc
        movl $TASK1_TSS, %eax
        movl $task1_tss, %edx
        call set_tss_desc
        movl $DF_TSS, %eax
        movl $df_tss, %edx
        call set_tss_desc
        movl $(TASK1_TSS << 16), gdt_tasks + TASK1_GATE
        movl $0x8500, gdt_tasks + TASK1_GATE + 4
        lgdt gdt_tasks_desc
        ljmp $KCODE, $1f
1:      movw $KDATA, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %fs
        movw %ax, %gs
        movw %ax, %ss
        ret

# paging_on: identity-map the first 4 MiB, the page at GUARD not present.
paging_on:
        xorl %ecx, %ecx
1:      movl %ecx, %eax
        shll $12, %eax
        orl $3, %eax
        movl %eax, page_table(, %ecx, 4)
        incl %ecx
        cmpl $1024, %ecx
        jb 1b
        movl $0, page_table + (GUARD >> 12) * 4
        movl $page_table + 3, page_dir
        movl $page_dir, %eax
        movl %eax, %cr3
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0
        ret

        .data
        .balign 8
gdt_tasks:
        .quad 0
        .quad 0x00cf9a000000ffff        # 0x08: code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0                         # 0x18: main TSS (set_tss_desc)
        .quad 0                         # 0x20: task1 TSS
        .quad 0                         # 0x28: double-fault TSS
        .quad 0                         # 0x30: task gate → task1
gdt_tasks_end:
gdt_tasks_desc:
        .word gdt_tasks_end - gdt_tasks - 1
        .long gdt_tasks

# A 32-bit TSS (SDM Figure 7-2) for a ring-0 task with flat segments.
.macro TSS eip, esp, cr3
        .long 0                         # previous-task link
        .long 0, 0, 0, 0, 0, 0          # ESP0/SS0 .. ESP2/SS2
        .long \cr3
        .long \eip
        .long 0x2                       # EFLAGS
        .long 0, 0, 0, 0                # EAX ECX EDX EBX
        .long \esp
        .long 0, 0, 0                   # EBP ESI EDI
        .long KDATA, KCODE, KDATA, KDATA, KDATA, KDATA   # ES CS SS DS FS GS
        .long 0                         # LDT
        .word 0                         # T
        .word 0x68                      # I/O map base: no bitmap
.endm
        .balign 128
main_tss:
        TSS 0, 0, 0
        .balign 128
task1_tss:
        TSS task1_entry, task1_stack_top, 0
        .balign 128
df_tss:
        TSS df_entry, df_stack_top, page_dir

        .section .bss
        .balign 4096
page_dir:
        .skip 4096
page_table:
        .skip 4096
        .balign 16
        .skip 4096
task1_stack_top:
        .skip 4096
df_stack_top:
