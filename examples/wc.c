/*
 * wc — reads standard input with read(2) in small chunks until end of
 * file and prints line, word and byte counts plus a CRC-32 of the input,
 * like `wc` piped into `cksum`-style output.
 */
#include "libc.h"

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

int main(void)
{
	crc_init();
	char buf[37]; /* deliberately odd, so words straddle reads */
	unsigned lines = 0, words = 0, bytes = 0, longest = 0, cur = 0;
	int in_word = 0;
	uint32_t crc = 0xffffffffu;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0) {
			dprintf(2, "read failed: errno %d\n", errno);
			return 1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];
			crc = crc_table[(crc ^ c) & 0xff] ^ (crc >> 8);
			bytes++;
			if (c == '\n') {
				lines++;
				if (cur > longest)
					longest = cur;
				cur = 0;
			} else {
				cur++;
			}
			int space = c == ' ' || c == '\n' || c == '\t';
			if (!space && !in_word)
				words++;
			in_word = !space;
		}
	}
	if (cur > longest)
		longest = cur;
	printf("%7u %7u %7u\n", lines, words, bytes);
	printf("longest line: %u\n", longest);
	printf("crc32: %08x\n", crc ^ 0xffffffffu);
	return 0;
}
