/*
 * <linux/miscdevice.h>: misc devices (major 10). misc_register() takes the
 * minor the driver asks for (MISC_DYNAMIC_MINOR: one from 127 down, as
 * Linux 5.x hands them out) and makes /dev/NAME; opening it calls the
 * device's open() with file->private_data pointing at the miscdevice.
 */
#ifndef _LINUX_MISCDEVICE_H
#define _LINUX_MISCDEVICE_H
#include <linux/types.h>
#include <linux/list.h>
#include <linux/fs.h>
#include <linux/device.h>
#include <linux/module.h>

#define MISC_MAJOR 10
#define MISC_DYNAMIC_MINOR 255
#define PSMOUSE_MINOR 1
#define WATCHDOG_MINOR 130
#define TUN_MINOR 200

struct attribute_group;

struct miscdevice {
	int minor;
	const char *name;
	const struct file_operations *fops;
	struct list_head list;
	struct device *parent;
	struct device *this_device;
	const struct attribute_group **groups;
	const char *nodename;
	umode_t mode;
};

int misc_register(struct miscdevice *misc);
void misc_deregister(struct miscdevice *misc);

#define module_misc_device(__misc_device) module_driver(__misc_device, misc_register, misc_deregister)

#endif
