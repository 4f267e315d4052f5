/* <linux/kobject.h>: kmemsim's minimal kobject (a name and a reference count), embedded in struct cdev. */
#ifndef _LINUX_KOBJECT_H
#define _LINUX_KOBJECT_H
#include <linux/types.h>
struct kobject {
	const char *name;
	struct kobject *parent;
	atomic_t refcount;
};
#endif
