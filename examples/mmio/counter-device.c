/*
 * The counter device of examples/mmio/counter-driver.c as a user process
 * (`kmemsim run examples/mmio/counter-driver.c --vdev counter-device`):
 * the same registers as the TypeScript CounterDevice (src/mmio/device.ts)
 * — ID, CTRL (1 resets COUNT, 2 raises the IRQ), COUNT (the next value on
 * each read), ECHO (what was last written, any width) — served over
 * /dev/vdev (include/kmemsim/vdev.h). The driver prints the same lines
 * against either. With the argument "die-at-count" the process exits when
 * COUNT is read: the driver's read gets all ones and the kernel a report.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <kmemsim/vdev.h>

static uint32_t count;
static uint8_t echo[4];

static uint32_t reg_read(uint32_t off, uint32_t size)
{
	uint32_t v = 0;

	if (off == 0 && size == 4)
		return 0x434d534b;
	if (off == 4 && size == 4)
		return 0;
	if (off == 8 && size == 4)
		return count++;
	if (off >= 0x0c && off + size <= 0x10) {
		for (uint32_t i = 0; i < size; i++)
			v |= (uint32_t)echo[off - 0x0c + i] << (8 * i);
		return v;
	}
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void reg_write(int fd, uint32_t off, uint32_t size, uint32_t value)
{
	if (off == 4 && size == 4) {
		if (value & 1)
			count = 0;
		if (value & 2)
			ioctl(fd, VDEV_IOC_IRQ, 0);
		return;
	}
	if (off >= 0x0c && off + size <= 0x10)
		for (uint32_t i = 0; i < size; i++)
			echo[off - 0x0c + i] = value >> (8 * i);
}

int main(int argc, char **argv)
{
	int die = argc > 1 && strcmp(argv[1], "die-at-count") == 0;
	int fd = open(VDEV_PATH, O_RDWR);
	struct vdev_msg m;

	if (fd < 0) {
		perror(VDEV_PATH);
		return 1;
	}
	while (read(fd, &m, sizeof(m)) == sizeof(m)) {
		if (m.op == VDEV_READ) {
			uint32_t v;

			if (die && m.offset == 8)
				return 3;
			v = reg_read(m.offset, m.size);
			write(fd, &v, sizeof(v));
		} else {
			reg_write(fd, m.offset, m.size, m.value);
		}
	}
	return 0;
}
