/*
 * Write overlays (onlyonemac's question, seed 001): writes to the buffer
 * land in an overlay, the buffer keeps its original bytes. Module code
 * reads through the overlay; printk's %s — the kernel reading the buffer
 * itself, not an instruction of the module — sees the original. Discard
 * drops the overlay; commit writes it into the buffer.
 * `kmemsim run examples/watch/overlay.c --overlay-save FILE` writes each
 * overlay as it ends (offsets, original and overlay bytes).
 */
#include <kmemsim/kernel.h>
#include <kmemsim/watch.h>

__attribute__((noipa)) static void show(const char *what, const char *s)
{
	char copy[17];
	int i;

	for (i = 0; i < 16; i++)	/* byte by byte: the module's own reads */
		copy[i] = s[i];
	copy[16] = 0;
	printk(KERN_INFO "overlay: %-9s module reads \"%s\", the buffer holds \"%.16s\"\n", what, copy, s);
}

int init_module(void)
{
	char *cfg = kmalloc(16, GFP_KERNEL);
	int r1, r2;

	if (!cfg)
		return -ENOMEM;
	memcpy(cfg, "mode=fast;lvl=1;", 16);
	if (kmcf_overlay(cfg, 16))
		return -EINVAL;
	show("start", cfg);
	memcpy(cfg + 5, "slow", 4);	/* the runtime's memcpy: string instructions */
	cfg[14] = '9';
	show("written", cfg);
	r1 = kmcf_overlay(cfg, 16);
	r2 = kmcf_overlay_discard(cfg);
	printk(KERN_INFO "overlay: second overlay %d, discard %d\n", r1, r2);
	show("discarded", cfg);
	kmcf_overlay(cfg, 16);
	cfg[14]++;
	r1 = kmcf_overlay_commit(cfg);
	r2 = kmcf_overlay_commit(cfg);
	printk(KERN_INFO "overlay: commit %d, commit again %d\n", r1, r2);
	show("committed", cfg);
	kmcf_delete(cfg);
	kfree(cfg);
	return 0;
}
