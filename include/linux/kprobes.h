/*
 * <linux/kprobes.h>: kprobes and kretprobes as Linux implements them on
 * x86: int3 written over the probed instruction, the pre_handler called
 * with a struct pt_regs (regs->ip = the probe address + 1), the original
 * instruction single-stepped out of line, then the post_handler; a
 * pre_handler returning non-zero skips the step (execution goes on at
 * regs->ip). A kretprobe hooks the return: handler(ri, regs) with
 * regs_return_value(regs); entry_handler, data_size/ri->data, maxactive
 * and nmissed as Linux. Handlers run with preemption and interrupts
 * disabled; a probe hit inside a handler is skipped and counted in
 * nmissed. NOKPROBE_SYMBOL(fn) puts fn on the blacklist (-EINVAL).
 *
 * The structures have Linux's field names in kmemsim's layout.
 */
#ifndef _LINUX_KPROBES_H
#define _LINUX_KPROBES_H
#include <linux/types.h>
#include <linux/ptrace.h>

typedef u8 kprobe_opcode_t;
#define BREAKPOINT_INSTRUCTION 0xcc
#define MAX_INSN_SIZE 16

struct kprobe;
struct kretprobe;
struct kretprobe_instance;
struct task_struct;

typedef int (*kprobe_pre_handler_t)(struct kprobe *, struct pt_regs *);
typedef void (*kprobe_post_handler_t)(struct kprobe *, struct pt_regs *, unsigned long flags);
typedef int (*kretprobe_handler_t)(struct kretprobe_instance *, struct pt_regs *);

struct arch_specific_insn {
	kprobe_opcode_t *insn;	/* the out-of-line copy */
};

struct kprobe {
	struct hlist_node hlist;
	struct list_head list;
	unsigned long nmissed;
	kprobe_opcode_t *addr;
	const char *symbol_name;
	unsigned int offset;
	kprobe_pre_handler_t pre_handler;
	kprobe_post_handler_t post_handler;
	kprobe_opcode_t opcode;
	struct arch_specific_insn ainsn;
	u32 flags;
};

#define KPROBE_FLAG_GONE	1
#define KPROBE_FLAG_DISABLED	2

struct kretprobe {
	struct kprobe kp;
	kretprobe_handler_t handler;
	kretprobe_handler_t entry_handler;
	int maxactive;
	int nmissed;
	size_t data_size;
	void *__kmemsim_instances;
};

#define KRETPROBE_MAX_DATA_SIZE 4096
#define KRETPROBE_MAXACTIVE_MAX 4096

struct kretprobe_instance {
	struct hlist_node hlist;
	struct kretprobe *rp;		/* Linux < 5.11; get_kretprobe() in later ones */
	kprobe_opcode_t *ret_addr;
	struct task_struct *task;	/* Linux < 5.11 */
	void *fp;
	char data[];
};

static inline struct kretprobe *get_kretprobe(struct kretprobe_instance *ri) { return ri->rp; }
static inline unsigned long get_kretprobe_retaddr(struct kretprobe_instance *ri) { return (unsigned long)ri->ret_addr; }
static inline int kprobe_gone(struct kprobe *p) { return p->flags & KPROBE_FLAG_GONE; }
static inline int kprobe_disabled(struct kprobe *p) { return p->flags & (KPROBE_FLAG_DISABLED | KPROBE_FLAG_GONE); }

int register_kprobe(struct kprobe *p);
void unregister_kprobe(struct kprobe *p);
int register_kprobes(struct kprobe **kps, int num);
void unregister_kprobes(struct kprobe **kps, int num);
int register_kretprobe(struct kretprobe *rp);
void unregister_kretprobe(struct kretprobe *rp);
int register_kretprobes(struct kretprobe **rps, int num);
void unregister_kretprobes(struct kretprobe **rps, int num);
int enable_kprobe(struct kprobe *kp);
int disable_kprobe(struct kprobe *kp);
static inline int enable_kretprobe(struct kretprobe *rp) { return enable_kprobe(&rp->kp); }
static inline int disable_kretprobe(struct kretprobe *rp) { return disable_kprobe(&rp->kp); }

/* The kprobe blacklist: the address of fname goes into the module's _kprobe_blacklist section. */
#define __NOKPROBE_SYMBOL(fname) \
	static unsigned long __attribute__((__used__, __section__("_kprobe_blacklist"))) _kbl_addr_##fname = (unsigned long)fname;
#define NOKPROBE_SYMBOL(fname) __NOKPROBE_SYMBOL(fname)
#define __kprobes __attribute__((__section__(".kprobes.text")))
#define nokprobe_inline __always_inline

#endif
