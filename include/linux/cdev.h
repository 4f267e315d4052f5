/*
 * <linux/cdev.h>: character devices by dev_t range. cdev_add() makes the
 * range's device numbers open through the cdev's file_operations; a /dev
 * node for them comes from device_create() (<linux/device.h>) or mknod(2).
 */
#ifndef _LINUX_CDEV_H
#define _LINUX_CDEV_H
#include <linux/types.h>
#include <linux/kobject.h>
#include <linux/kdev_t.h>
#include <linux/list.h>

struct file_operations;
struct module;

struct cdev {
	struct kobject kobj;
	struct module *owner;
	const struct file_operations *ops;
	struct list_head list;
	dev_t dev;
	unsigned int count;
};

void cdev_init(struct cdev *cdev, const struct file_operations *fops);
struct cdev *cdev_alloc(void);
int cdev_add(struct cdev *p, dev_t dev, unsigned count);
void cdev_del(struct cdev *p);

#endif
