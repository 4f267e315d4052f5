/*
 * Fuzz target: a use after free reached by a command sequence.
 *
 * Each input byte is a command: 'o' opens a session (kmalloc), 'w' writes
 * the next byte into it, 'r' reads it back, 'c' closes it (once) — and
 * forgets to clear the pointer. 'o', 'c', 'r' in that order reads freed memory,
 * which kmemcheck reports (ASan would too; a native build without it
 * reads stale data silently).
 *
 *   kmemsim fuzz examples/fuzz/use-after-free.c --kmemcheck -x examples/fuzz/use-after-free.dict -o out
 */
#include <kmemsim/kernel.h>

struct session {
	int value;
	int reads;
};

static struct session *session;
static int closed;
int last_read; /* global: the value read is visible */

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	size_t i;

	session = NULL;
	closed = 0;
	for (i = 0; i < size; i++) {
		switch (data[i]) {
		case 'o':
			if (!session) {
				session = kmalloc(sizeof(*session), GFP_KERNEL);
				if (!session)
					return 0;
				session->value = 0;
				session->reads = 0;
			}
			break;
		case 'w':
			if (session && i + 1 < size)
				session->value = data[++i];
			break;
		case 'r':
			if (session) {
				session->reads++;
				last_read = session->value; /* after 'c': freed memory */
			}
			break;
		case 'c':
			if (session && !closed) {
				kfree(session); /* BUG: session still points at the freed object */
				closed = 1;
			}
			break;
		}
	}
	return 0;
}
