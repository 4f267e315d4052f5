/*
 * include/kmemsim/watch.h — the watch framework for kmemsim's kernel modules
 * (HeChuan's kernel_module_check_framework, seed 000), exported by the
 * simulated kernel like kmalloc and printk. See README "Watching buffers".
 *
 * Adding a buffer hides every page it touches (as kmemcheck hides the
 * heap). An access to such a page faults; when it falls in a watched
 * buffer the handler runs before the access (post = 0) and again after it
 * (post = 1, with the value read or written), then the page is hidden
 * again. An access to a watched page outside every watched buffer (a
 * "foreign" access: the neighbour of a buffer, an overflow) is not passed
 * to the handler: it is counted in the `foreign` statistic of every buffer
 * on that page and, with kmcf_set_overflow_report(1), reported like a
 * kmemcheck error (registers, stack trace).
 *
 * The handler runs at CPL 0 with interrupts off (in the page-fault and
 * debug-trap path). An access it makes to a watched buffer is counted but
 * not passed to it again (no recursion). Its return value is ignored
 * (reserved: return 0).
 *
 * Errors are negative errno values: -EBUSY (a handler is registered),
 * -EINVAL (len 0, a NULL handler, nothing registered, an unmapped buffer),
 * -EEXIST (the buffer overlaps a watched one), -ENOENT (not watched).
 */
#ifndef KMEMSIM_WATCH_H
#define KMEMSIM_WATCH_H

#include <kmemsim/kernel.h>

typedef int pid_t;

struct kmcf_access {
	unsigned long addr;	/* first byte of the access inside the buffer */
	unsigned long ip;	/* the instruction */
	unsigned int size;	/* bytes inside the buffer (an access crossing its end is cut there) */
	int write;		/* 1 = write, 0 = read (a read-modify-write is both: two calls) */
	const void *buf;	/* the buffer, as given to kmcf_add() */
	size_t offset;		/* addr - buf */
	unsigned long value;	/* the value written or read (its first 4 bytes): valid in the post call */
	pid_t pid;		/* the current task (0: the kernel's own context) */
};

/* post = 0 before the access, 1 after it. */
typedef int (*kmcf_handler_t)(const struct kmcf_access *acc, int post);

struct kmcf_stats {
	unsigned long reads, writes, faults, foreign;
};

int kmcf_register(kmcf_handler_t handler);	/* -EBUSY if one is registered */
int kmcf_unregister(void);			/* deletes every buffer (pages shown), prints the statistics */
int kmcf_add(const void *buf, size_t len);	/* -EEXIST on overlap, -EINVAL on len 0 */
int kmcf_delete(const void *buf);		/* -ENOENT if not added */
int kmcf_stats(const void *buf, struct kmcf_stats *out);	/* -ENOENT if not added */
void kmcf_set_overflow_report(int on);		/* report foreign accesses, not just count them */

/*
 * Write overlays: writes to [buf, buf + len) land in an overlay while the
 * buffer keeps its original bytes; reads see the overlay's bytes where
 * they were written and the original elsewhere. kmcf_overlay() watches the
 * buffer if it is not watched yet. commit writes the overlay into the
 * buffer, discard drops it; both end the overlay (-ENOENT without one).
 * `kmemsim run --overlay-save FILE` writes each overlay as it ends.
 */
int kmcf_overlay(const void *buf, size_t len);	/* -EEXIST if it already has one */
int kmcf_overlay_commit(const void *buf);
int kmcf_overlay_discard(const void *buf);

#endif /* KMEMSIM_WATCH_H */
