/*
 * A user-program fuzz target on the project's runtime (examples/lib): a
 * type-length-value reader on stdin. The planted bug: a "copy" record
 * (type 'C') names a slot by index and the index is checked against the
 * wrong bound (the table's size in bytes, not entries), so an index past
 * the table reads a wild pointer from the words after it and writes
 * through it: SIGSEGV, found natively by AFL++ as well.
 *
 *   kmemsim fuzz build/fuzz/tlv -x examples/fuzz/programs/tlv.dict -o out --runs 2000
 */
#include "libc.h"

struct slot {
	char *buf;
	int len;
};

static char storage[4][16];
static struct slot slots[4] = {
	{ storage[0], 16 }, { storage[1], 16 }, { storage[2], 16 }, { storage[3], 16 },
};
static unsigned int wild[16] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80 };

static unsigned char input[4096];

static int record(const unsigned char *p, int left)
{
	int type, len;

	if (left < 2)
		return -1;
	type = p[0];
	len = p[1];
	if (len > left - 2)
		return -1;
	if (type == 'S' && len >= 1) {
		/* set: slot index, then bytes */
		int i = p[2] & 3;
		int n = len - 1 < slots[i].len ? len - 1 : slots[i].len;
		memcpy(slots[i].buf, p + 3, n);
	} else if (type == 'C' && len >= 2) {
		/* copy slot a to slot b: the bound is sizeof(slots) (bytes), not the entry count */
		unsigned int a = p[2], b = p[3];
		if (a < sizeof(slots) && b < sizeof(slots))
			memcpy(slots[b].buf, slots[a].buf, 8);
	} else if (type == 'P') {
		printf("%.16s\n", storage[p[2] & 3]);
	}
	return 2 + len;
}

int main(void)
{
	int n = 0, r, off = 0;

	while (n < (int)sizeof(input) && (r = read(0, input + n, sizeof(input) - n)) > 0)
		n += r;
	if (n < 4 || memcmp(input, "TLV1", 4) != 0)
		return 1;
	off = 4;
	while (off < n) {
		r = record(input + off, n - off);
		if (r < 0)
			break;
		off += r;
	}
	return wild[0] == 0; /* keep wild[] */
}
