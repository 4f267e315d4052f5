/*
 * <linux/version.h>: kmemsim's modules see the Linux they are written for
 * as 6.1 (the version /proc/version reports), so version checks pick the
 * current interfaces (struct proc_ops, class_create(name)).
 */
#ifndef _LINUX_VERSION_H
#define _LINUX_VERSION_H
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#define LINUX_VERSION_MAJOR 6
#define LINUX_VERSION_PATCHLEVEL 1
#define LINUX_VERSION_SUBLEVEL 0
#define LINUX_VERSION_CODE KERNEL_VERSION(6, 1, 0)
#define UTS_RELEASE "6.1.0-kmemsim"
#endif
