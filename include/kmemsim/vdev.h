/*
 * include/kmemsim/vdev.h — the /dev/vdev protocol for a user program that
 * is a virtual MMIO device (`kmemsim run DRIVER --vdev PROGRAM`; README
 * "Virtual MMIO devices", src/mmio/process-device.ts). Read a message;
 * answer a VDEV_READ with write(fd, &value, 4); raise the device's IRQ
 * with ioctl(fd, VDEV_IOC_IRQ, 0).
 */
#ifndef KMEMSIM_VDEV_H
#define KMEMSIM_VDEV_H

#include <stdint.h>

#define VDEV_PATH "/dev/vdev"
#define VDEV_READ 0	/* "read `size` bytes at `offset`": answer with the value */
#define VDEV_WRITE 1	/* "write `size` bytes at `offset`": `value` is what was stored */
#define VDEV_IOC_IRQ 0x7601

struct vdev_msg {
	uint32_t op;
	uint32_t offset;
	uint32_t size;
	uint32_t value;
};

#endif
