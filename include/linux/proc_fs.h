/*
 * <linux/proc_fs.h>: /proc entries made by modules. proc_create() takes a
 * struct proc_ops (Linux 5.6+) or, as older modules pass, a struct
 * file_operations — chosen at compile time from the argument's type, so
 * both kinds of source build unmodified. The entry's data
 * (proc_create_data()) is PDE_DATA(inode) / pde_data(inode).
 */
#ifndef _LINUX_PROC_FS_H
#define _LINUX_PROC_FS_H
#include <linux/types.h>
#include <linux/fs.h>

struct proc_dir_entry;
struct seq_file;

#define PROC_ENTRY_PERMANENT 1U

struct proc_ops {
	unsigned int proc_flags;
	int (*proc_open)(struct inode *, struct file *);
	ssize_t (*proc_read)(struct file *, char __user *, size_t, loff_t *);
	ssize_t (*proc_read_iter)(struct kiocb *, struct iov_iter *);
	ssize_t (*proc_write)(struct file *, const char __user *, size_t, loff_t *);
	loff_t (*proc_lseek)(struct file *, loff_t, int);
	int (*proc_release)(struct inode *, struct file *);
	__poll_t (*proc_poll)(struct file *, struct poll_table_struct *);
	long (*proc_ioctl)(struct file *, unsigned int, unsigned long);
	long (*proc_compat_ioctl)(struct file *, unsigned int, unsigned long);
	int (*proc_mmap)(struct file *, struct vm_area_struct *);
	unsigned long (*proc_get_unmapped_area)(struct file *, unsigned long, unsigned long, unsigned long, unsigned long);
};

struct proc_dir_entry *proc_create_data(const char *name, umode_t mode, struct proc_dir_entry *parent,
					const struct proc_ops *proc_ops, void *data);
struct proc_dir_entry *proc_create(const char *name, umode_t mode, struct proc_dir_entry *parent,
				   const struct proc_ops *proc_ops);
struct proc_dir_entry *__kmemsim_proc_create_data_fops(const char *name, umode_t mode, struct proc_dir_entry *parent,
						       const struct file_operations *fops, void *data);
struct proc_dir_entry *__kmemsim_proc_create_fops(const char *name, umode_t mode, struct proc_dir_entry *parent,
						  const struct file_operations *fops);
struct proc_dir_entry *proc_mkdir(const char *name, struct proc_dir_entry *parent);
struct proc_dir_entry *proc_mkdir_mode(const char *name, umode_t mode, struct proc_dir_entry *parent);
struct proc_dir_entry *proc_mkdir_data(const char *name, umode_t mode, struct proc_dir_entry *parent, void *data);
void remove_proc_entry(const char *name, struct proc_dir_entry *parent);
int remove_proc_subtree(const char *name, struct proc_dir_entry *parent);
void proc_remove(struct proc_dir_entry *de);
void proc_set_size(struct proc_dir_entry *de, loff_t size);

#define proc_create(name, mode, parent, ops) _Generic((ops),			\
	const struct file_operations *: __kmemsim_proc_create_fops,		\
	struct file_operations *: __kmemsim_proc_create_fops,			\
	default: (proc_create))(name, mode, parent, ops)
#define proc_create_data(name, mode, parent, ops, data) _Generic((ops),	\
	const struct file_operations *: __kmemsim_proc_create_data_fops,	\
	struct file_operations *: __kmemsim_proc_create_data_fops,		\
	default: (proc_create_data))(name, mode, parent, ops, data)

static inline void *pde_data(const struct inode *inode) { return inode->i_private; }
#define PDE_DATA(inode) pde_data(inode)

#endif
