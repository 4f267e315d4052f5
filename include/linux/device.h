/*
 * <linux/device.h> basics: device classes and devices as far as a
 * character driver needs them — device_create() makes the /dev node (as
 * devtmpfs does), dev_get_drvdata()/dev_set_drvdata(), dev_info() and
 * friends. class_create() takes (owner, name) before Linux 6.4 and (name)
 * since; both are accepted.
 */
#ifndef _LINUX_DEVICE_H
#define _LINUX_DEVICE_H
#include <linux/types.h>
#include <linux/kdev_t.h>
#include <linux/printk.h>
#include <linux/err.h>

struct module;

struct class {
	const char *name;
	struct module *owner;
};

struct device {
	dev_t devt;
	void *driver_data;
	struct class *class;
	const char *init_name;
};

struct class *__kmemsim_class_create(const char *name);
void class_destroy(struct class *cls);
__printf(5, 6) struct device *device_create(struct class *cls, struct device *parent, dev_t devt, void *drvdata, const char *fmt, ...);
void device_destroy(struct class *cls, dev_t devt);

#define __class_create_2(owner, name) __kmemsim_class_create(name)
#define __class_create_1(name) __kmemsim_class_create(name)
#define __class_create_pick(_1, _2, name, ...) name
#define class_create(...) __class_create_pick(__VA_ARGS__, __class_create_2, __class_create_1, _)(__VA_ARGS__)

static inline void *dev_get_drvdata(const struct device *dev) { return dev->driver_data; }
static inline void dev_set_drvdata(struct device *dev, void *data) { dev->driver_data = data; }
static inline const char *dev_name(const struct device *dev) { return dev->init_name ? dev->init_name : "(null)"; }

#define dev_printk(level, dev, fmt, ...) printk(level "%s: " fmt, dev_name(dev), ##__VA_ARGS__)
#define dev_emerg(dev, fmt, ...) dev_printk(KERN_EMERG, dev, fmt, ##__VA_ARGS__)
#define dev_crit(dev, fmt, ...) dev_printk(KERN_CRIT, dev, fmt, ##__VA_ARGS__)
#define dev_alert(dev, fmt, ...) dev_printk(KERN_ALERT, dev, fmt, ##__VA_ARGS__)
#define dev_err(dev, fmt, ...) dev_printk(KERN_ERR, dev, fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...) dev_printk(KERN_WARNING, dev, fmt, ##__VA_ARGS__)
#define dev_notice(dev, fmt, ...) dev_printk(KERN_NOTICE, dev, fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...) dev_printk(KERN_INFO, dev, fmt, ##__VA_ARGS__)
#ifdef DEBUG
#define dev_dbg(dev, fmt, ...) dev_printk(KERN_DEBUG, dev, fmt, ##__VA_ARGS__)
#else
#define dev_dbg(dev, fmt, ...) ({ if (0) dev_printk(KERN_DEBUG, dev, fmt, ##__VA_ARGS__); })
#endif

#endif
