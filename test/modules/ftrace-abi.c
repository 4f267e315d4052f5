/*
 * Calls with every shape of argument list, each argument word a
 * recognizable constant W(i, j) (argument i, word j), for checking
 * regparmLayout() (src/ftrace/poison.ts) against what gcc -mregparm=3
 * really does (test/ftrace/poison.test.ts reads the arguments at each
 * callee's entry through the function tracer).
 */
#define noinline __attribute__((noinline))
#define W(i, j) (0x5e000000 | ((i) << 8) | (j))
#define LL(i) (((long long)W(i, 1) << 32) | (unsigned)W(i, 0))

struct s3 { int a, b, c; };
struct s6 { short a, b, c; };
struct s2 { short a; char b; };

int sink;

noinline int f_iiii(int a, int b, int c, int d) { sink += a + b + c + d; return 0; }
noinline int f_ili(int a, long long b, int c) { sink += a + (int)b + c; return 0; }
noinline int f_iili(int a, int b, long long c, int d) { sink += a + b + (int)c + d; return 0; }
noinline int f_li(long long a, int b, int c) { sink += (int)a + b + c; return 0; }
noinline int f_s3i(struct s3 s, int c) { sink += s.a + s.c + c; return 0; }
noinline int f_is3i(int a, struct s3 s, int c) { sink += a + s.b + c; return 0; }
noinline int f_s6i(struct s6 s, int c) { sink += s.a + s.c + c; return 0; }
noinline int f_s2iii(struct s2 s, int c, int d, int e) { sink += s.a + c + d + e; return 0; }
/* kmemsim has no x87: the double is only passed (as bits), never computed with. */
noinline int f_dii(double x, int a, int b, int c, int d) { (void)x; sink += a + b + c + d; return 0; }
noinline int f_csii(char a, short b, int c, int d) { sink += a + b + c + d; return 0; }
noinline int f_v(int a, int b, ...) { sink += a + b; return 0; }
noinline struct s3 f_ret(int a, int b, int c) { struct s3 s = { a, b, c }; return s; }
/* 8 bytes: -freg-struct-return returns it in EDX:EAX, no hidden pointer (sizes 1, 2, 4, 8). */
struct s8 { int a, b; };
noinline struct s8 f_ret8(int a, int b) { struct s8 s = { a, b }; return s; }

int drive(void)
{
	struct s3 s3 = { W(0, 0), W(0, 1), W(0, 2) };
	struct s3 t3 = { W(1, 0), W(1, 1), W(1, 2) };
	struct s6 s6 = { 0x0a01, 0x0a02, 0x0a03 };
	struct s2 s2 = { 0x0b01, 0x02 };
	union { long long i; double d; } dbl = { .i = LL(0) };
	f_iiii(W(0, 0), W(1, 0), W(2, 0), W(3, 0));
	f_ili(W(0, 0), LL(1), W(2, 0));
	f_iili(W(0, 0), W(1, 0), LL(2), W(3, 0));
	f_li(LL(0), W(1, 0), W(2, 0));
	f_s3i(s3, W(1, 0));
	f_is3i(W(0, 0), t3, W(2, 0));
	f_s6i(s6, W(1, 0));
	f_s2iii(s2, W(1, 0), W(2, 0), W(3, 0));
#ifdef __OPTIMIZE__
	/* -O0 copies the double with fldl/fstpl, which kmemsim does not model; -O2 moves its bits as integers. */
	f_dii(dbl.d, W(1, 0), W(2, 0), W(3, 0), W(4, 0));
#endif
	f_csii(0x11, 0x2222, W(2, 0), W(3, 0));
	f_v(W(0, 0), W(1, 0), 5, 6);
	struct s3 r = f_ret(W(1, 0), W(2, 0), W(3, 0));
	struct s8 r8 = f_ret8(W(0, 0), W(1, 0));
	return r.a + r8.b + sink;
}
