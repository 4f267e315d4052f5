/*
 * examples/lib/malloc.c — a small, deterministic allocator.
 *
 * Requests below MALLOC_MMAP_THRESHOLD are rounded (with an 8-byte header)
 * up to a power of two between 16 bytes and 128 KiB and served from a free
 * list per size class; empty lists are refilled from the brk heap, which
 * grows in steps of at least HEAP_STEP. Freed small blocks go back on their
 * list (no coalescing, never returned to the system). Larger requests get
 * their own anonymous mmap2 mapping, released with munmap on free.
 *
 * Every block starts with a header holding the requested size and a tag
 * (magic | class | allocated bit), so free() can catch double frees and
 * pointers that malloc never returned.
 */
#include "libc.h"

#define MIN_SHIFT  4                 /* 16-byte smallest block */
#define MAX_SHIFT  17                /* 128 KiB largest class */
#define NCLASSES   (MAX_SHIFT - MIN_SHIFT + 1)
#define HEAP_STEP  (64u * 1024u)
#define MAGIC      0x6b6d0000u       /* "km" */
#define MAGIC_MASK 0xffff0000u
#define TAG_USED   0x8000u
#define TAG_MMAP   0x00ffu

struct header {
	uint32_t size;  /* requested size (small) or mapping length (mmap) */
	uint32_t tag;   /* MAGIC | TAG_USED? | class or TAG_MMAP */
};

struct free_block {
	struct header h;
	struct free_block *next;
};

static struct free_block *free_lists[NCLASSES];
static char *wild, *wild_end;  /* unused tail of the brk heap */
static struct malloc_stats stats;

static int class_of(size_t total)
{
	int c = 0;
	while (((size_t)1 << (c + MIN_SHIFT)) < total)
		c++;
	return c;
}

static size_t mmap_len(size_t n)
{
	return (n + sizeof(struct header) + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
}

/* Takes `bytes` from the tail of the brk heap, growing it when needed. */
static void *carve(size_t bytes)
{
	if ((size_t)(wild_end - wild) < bytes) {
		char *cur = sbrk(0);
		if (cur == (char *)-1)
			return NULL;
		if (cur != wild_end) {
			/* First use (or the break moved under us): start a new
			 * region, 16-byte aligned; an old tail is abandoned. */
			size_t align = (16 - ((uintptr_t)cur & 15)) & 15;
			if (align && sbrk((intptr_t)align) == (void *)-1)
				return NULL;
			stats.brk_bytes += align;
			wild = wild_end = cur + align;
		}
		size_t need = bytes - (size_t)(wild_end - wild);
		size_t grow = (need + HEAP_STEP - 1) & ~(size_t)(HEAP_STEP - 1);
		if (sbrk((intptr_t)grow) == (void *)-1)
			return NULL;
		wild_end += grow;
		stats.brk_bytes += grow;
	}
	char *p = wild;
	wild += bytes;
	return p;
}

void *malloc(size_t n)
{
	struct header *h;
	if (n >= MALLOC_MMAP_THRESHOLD) {
		if (n > 0x7fff0000u)
			goto nomem;
		size_t len = mmap_len(n);
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			goto nomem;
		h = m;
		h->tag = MAGIC | TAG_USED | TAG_MMAP;
		stats.mmap_bytes += len;
		stats.mmaps++;
	} else {
		int c = class_of(n + sizeof *h);
		struct free_block *b = free_lists[c];
		if (b) {
			free_lists[c] = b->next;
			h = &b->h;
		} else {
			h = carve((size_t)1 << (c + MIN_SHIFT));
			if (!h)
				goto nomem;
		}
		h->tag = MAGIC | TAG_USED | (uint32_t)c;
	}
	h->size = (uint32_t)n;
	stats.in_use += n;
	stats.mallocs++;
	return h + 1;
nomem:
	errno = ENOMEM;
	return NULL;
}

static struct header *header_of(void *p, const char *who)
{
	struct header *h = (struct header *)p - 1;
	if ((h->tag & MAGIC_MASK) != MAGIC || !(h->tag & TAG_USED)) {
		dprintf(2, "%s(%p): not an allocated block (double free?)\n", who, p);
		abort();
	}
	return h;
}

void free(void *p)
{
	if (!p)
		return;
	struct header *h = header_of(p, "free");
	stats.frees++;
	stats.in_use -= h->size;
	if ((h->tag & 0xff) == TAG_MMAP) {
		size_t len = mmap_len(h->size);
		stats.mmap_bytes -= len;
		stats.munmaps++;
		h->tag = 0;
		munmap(h, len);
		return;
	}
	int c = (int)(h->tag & 0xff);
	h->tag = MAGIC | (uint32_t)c;
	struct free_block *b = (struct free_block *)h;
	b->next = free_lists[c];
	free_lists[c] = b;
}

void *calloc(size_t n, size_t size)
{
	if (size && n > 0xffffffffu / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	struct header *h = header_of(p, "realloc");
	size_t old = h->size;
	if ((h->tag & 0xff) != TAG_MMAP && n < MALLOC_MMAP_THRESHOLD &&
	    n + sizeof *h <= ((size_t)1 << ((h->tag & 0xff) + MIN_SHIFT))) {
		stats.in_use = stats.in_use - old + n;
		h->size = (uint32_t)n;
		return p;
	}
	void *q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	free(p);
	return q;
}

void malloc_get_stats(struct malloc_stats *st)
{
	*st = stats;
}
