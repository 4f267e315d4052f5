/*
 * guest/runtime/seq_file.c — sequential files (Linux's fs/seq_file.c, written
 * for kmemsim): /proc entries that print records through a start/next/stop/
 * show iterator, or one show() function (single_open()). Output is made a
 * buffer at a time (a page, doubled while one record does not fit) and
 * handed to read() in whatever pieces the reader asks for; the file
 * position counts bytes, m->index counts records.
 *
 * Guest code, linked into every module with the rest of the runtime: the
 * driver's callbacks are called from here as ordinary C calls, and the
 * buffer is kmalloc'd, so kmemcheck sees seq_file's reads and writes like
 * any module's.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/seq_file.h>

static void *seq_buf_alloc(unsigned long size)
{
	return kmalloc(size, GFP_KERNEL);
}

int seq_open(struct file *file, const struct seq_operations *op)
{
	struct seq_file *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	file->private_data = p;
	p->op = op;
	p->file = file;
	file->f_mode &= ~FMODE_PWRITE;
	return 0;
}

/* Fill m->buf with records from m->index on, at least one; 0, or an error from show(). */
static int traverse_fill(struct seq_file *m)
{
	void *p;
	int err = 0;

	m->from = 0;
	m->count = 0;
	if (!m->buf) {
		m->size = PAGE_SIZE;
		m->buf = seq_buf_alloc(m->size);
		if (!m->buf)
			return -ENOMEM;
	}
	for (;;) {
		p = m->op->start(m, &m->index);
		if (!p || IS_ERR(p)) {
			err = PTR_ERR_OR_ZERO(p);
			break;
		}
		err = m->op->show(m, p);
		if (err < 0)
			break;
		if (unlikely(err))	/* SEQ_SKIP */
			m->count = 0;
		if (unlikely(!m->count)) {
			p = m->op->next(m, p, &m->index);
			m->op->stop(m, p);
			continue;
		}
		if (!seq_has_overflowed(m))
			goto fill;
		/* One record did not fit: a bigger buffer, and again. */
		m->op->stop(m, p);
		kfree(m->buf);
		m->count = 0;
		m->size <<= 1;
		m->buf = seq_buf_alloc(m->size);
		if (!m->buf)
			return -ENOMEM;
	}
	m->op->stop(m, p);
	return err;
fill:
	/* More records while they fit. */
	while (1) {
		size_t offs = m->count;
		loff_t pos = m->index;

		p = m->op->next(m, p, &m->index);
		if (pos == m->index)
			m->index++;	/* a next() that does not advance: move on anyway, as Linux does */
		if (!p || IS_ERR(p))
			break;
		if (m->count >= m->size)
			break;
		err = m->op->show(m, p);
		if (err > 0) {		/* SEQ_SKIP */
			m->count = offs;
		} else if (err || seq_has_overflowed(m)) {
			m->count = offs;
			break;
		}
	}
	m->op->stop(m, p);
	return 0;
}

/* Records from the start until `offset` bytes are behind (a read at an earlier position, or lseek). */
static int traverse(struct seq_file *m, loff_t offset)
{
	loff_t pos = 0;
	int err;

	m->index = 0;
	m->count = m->from = 0;
	if (!offset)
		return 0;
	for (;;) {
		err = traverse_fill(m);
		if (err)
			return err;
		if (!m->count)
			return 0;
		if (pos + (loff_t)m->count > offset) {
			m->from = offset - pos;
			m->count -= m->from;
			return 0;
		}
		pos += m->count;
		m->count = 0;
		if (pos == offset)
			return 0;
	}
}

ssize_t seq_read(struct file *file, char __user *buf, size_t size, loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	size_t copied = 0;
	size_t n;
	int err = 0;

	if (*ppos != m->read_pos) {
		err = traverse(m, *ppos);
		if (err) {
			m->read_pos = 0;
			m->index = 0;
			m->count = 0;
			return err;
		}
		m->read_pos = *ppos;
	}
	while (size) {
		if (m->count) {
			n = m->count < size ? m->count : size;
			if (copy_to_user(buf + copied, m->buf + m->from, n)) {
				err = -EFAULT;
				break;
			}
			m->count -= n;
			m->from += n;
			copied += n;
			size -= n;
			continue;
		}
		err = traverse_fill(m);
		if (err || !m->count)
			break;
	}
	*ppos += copied;
	m->read_pos += copied;
	return copied ? (ssize_t)copied : err;
}

loff_t seq_lseek(struct file *file, loff_t offset, int whence)
{
	struct seq_file *m = file->private_data;
	int err;

	switch (whence) {
	case SEEK_CUR:
		offset += file->f_pos;
		fallthrough;
	case SEEK_SET:
		if (offset < 0)
			return -EINVAL;
		if (offset != m->read_pos) {
			err = traverse(m, offset);
			if (err) {
				file->f_pos = 0;
				m->read_pos = 0;
				m->index = 0;
				m->count = 0;
				return err;
			}
			m->read_pos = offset;
		}
		file->f_pos = offset;
		return offset;
	default:
		return -EINVAL;
	}
}

int seq_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;

	(void)inode;
	kfree(m->buf);
	kfree(m);
	return 0;
}

void seq_vprintf(struct seq_file *m, const char *f, va_list args)
{
	int len;

	if (m->count < m->size) {
		len = vsnprintf(m->buf + m->count, m->size - m->count, f, args);
		if (m->count + len < m->size) {
			m->count += len;
			return;
		}
	}
	m->count = m->size;	/* overflow: the record is made again in a bigger buffer */
}

void seq_printf(struct seq_file *m, const char *f, ...)
{
	va_list args;

	va_start(args, f);
	seq_vprintf(m, f, args);
	va_end(args);
}

int seq_write(struct seq_file *seq, const void *data, size_t len)
{
	if (seq->count + len < seq->size) {
		memcpy(seq->buf + seq->count, data, len);
		seq->count += len;
		return 0;
	}
	seq->count = seq->size;
	return -1;
}

void seq_puts(struct seq_file *m, const char *s)
{
	seq_write(m, s, strlen(s));
}

void seq_putc(struct seq_file *m, char c)
{
	if (m->count >= m->size)
		return;
	m->buf[m->count++] = c;
}

void seq_put_decimal_ull(struct seq_file *m, const char *delimiter, unsigned long long num)
{
	seq_printf(m, "%s%llu", delimiter, num);
}

void seq_put_decimal_ll(struct seq_file *m, const char *delimiter, long long num)
{
	seq_printf(m, "%s%lld", delimiter, num);
}

void seq_pad(struct seq_file *m, char c)
{
	int size = m->pad_until - m->count;

	if (size > 0) {
		if (size + m->count > m->size) {
			m->count = m->size;
			return;
		}
		memset(m->buf + m->count, ' ', size);
		m->count += size;
	}
	if (c)
		seq_putc(m, c);
}

/* single_open(): one record, the show() function's whole output. */
static void *single_start(struct seq_file *p, loff_t *pos)
{
	(void)p;
	return *pos ? NULL : SEQ_START_TOKEN;
}

static void *single_next(struct seq_file *p, void *v, loff_t *pos)
{
	(void)p;
	(void)v;
	++*pos;
	return NULL;
}

static void single_stop(struct seq_file *p, void *v)
{
	(void)p;
	(void)v;
}

int single_open(struct file *file, int (*show)(struct seq_file *, void *), void *data)
{
	struct seq_operations *op = kmalloc(sizeof(*op), GFP_KERNEL);
	int res = -ENOMEM;

	if (op) {
		op->start = single_start;
		op->next = single_next;
		op->stop = single_stop;
		op->show = show;
		res = seq_open(file, op);
		if (!res)
			((struct seq_file *)file->private_data)->private = data;
		else
			kfree(op);
	}
	return res;
}

int single_open_size(struct file *file, int (*show)(struct seq_file *, void *), void *data, size_t size)
{
	char *buf = seq_buf_alloc(size);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = single_open(file, show, data);
	if (ret) {
		kfree(buf);
		return ret;
	}
	((struct seq_file *)file->private_data)->buf = buf;
	((struct seq_file *)file->private_data)->size = size;
	return 0;
}

int single_release(struct inode *inode, struct file *file)
{
	const struct seq_operations *op = ((struct seq_file *)file->private_data)->op;
	int res = seq_release(inode, file);

	kfree((void *)op);
	return res;
}

void *__seq_open_private(struct file *f, const struct seq_operations *ops, int psize)
{
	void *private = kzalloc(psize, GFP_KERNEL);

	if (!private)
		return NULL;
	if (seq_open(f, ops)) {
		kfree(private);
		return NULL;
	}
	((struct seq_file *)f->private_data)->private = private;
	return private;
}

int seq_open_private(struct file *f, const struct seq_operations *ops, int psize)
{
	return __seq_open_private(f, ops, psize) ? 0 : -ENOMEM;
}

int seq_release_private(struct inode *inode, struct file *file)
{
	struct seq_file *seq = file->private_data;

	kfree(seq->private);
	seq->private = NULL;
	return seq_release(inode, file);
}

struct list_head *seq_list_start(struct list_head *head, loff_t pos)
{
	struct list_head *lh;

	list_for_each(lh, head)
		if (pos-- == 0)
			return lh;
	return NULL;
}

struct list_head *seq_list_start_head(struct list_head *head, loff_t pos)
{
	if (!pos)
		return head;
	return seq_list_start(head, pos - 1);
}

struct list_head *seq_list_next(void *v, struct list_head *head, loff_t *ppos)
{
	struct list_head *lh = ((struct list_head *)v)->next;

	++*ppos;
	return lh == head ? NULL : lh;
}
