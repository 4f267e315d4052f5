/*
 * float — float, double and long double arithmetic on the x87 (gcc -m32
 * -mno-sse compiles them to x87 code): series for pi and e, Newton and
 * FSQRT square roots, a 4x4 linear system by Gaussian elimination, a
 * float/double/long double harmonic sum, conversions to and from integers
 * in every rounding mode, comparisons with NaN and infinities, and the
 * exact bits of results that are the same at every optimization level.
 *
 * Values are printed through integers (the runtime's printf has no %f),
 * with 6 decimals: x87 code keeps intermediates in 80-bit registers at -O2
 * and stores them to memory at -O0, which may change the last bits of a
 * double; only results that are exact whatever the spilling are printed
 * in hex. Accumulators that must round at every step are volatile.
 */
#include "libc.h"

static void put_fixed(const char *name, double x)
{
	if (x != x) {
		printf("%s = nan\n", name);
		return;
	}
	if (x > 1e300 || x < -1e300) {
		printf("%s = %sinf\n", name, x < 0 ? "-" : "");
		return;
	}
	const char *sign = x < 0 ? "-" : "";
	if (x < 0)
		x = -x;
	long long scaled = (long long)(x * 1000000.0 + 0.5);
	printf("%s = %s%lld.%06lld\n", name, sign, scaled / 1000000, scaled % 1000000);
}

static void put_bits64(const char *name, double x)
{
	union { double d; unsigned long long u; } v = { x };
	printf("%s = 0x%08x%08x\n", name, (unsigned)(v.u >> 32), (unsigned)v.u);
}

static void put_bits80(const char *name, long double x)
{
	unsigned char b[16];
	memcpy(b, &x, 10);
	printf("%s = 0x", name);
	for (int i = 9; i >= 0; i--)
		printf("%02x", b[i]);
	printf("\n");
}

static double fsqrt(double x)
{
	double r;
	__asm__("fsqrt" : "=t"(r) : "0"(x));
	return r;
}

static unsigned short get_cw(void)
{
	unsigned short cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

static void set_rc(int rc)
{
	unsigned short cw = (get_cw() & ~0x0c00) | (rc << 10);
	__asm__ volatile("fldcw %0" : : "m"(cw));
}

static long long rint_ll(long double x)
{
	long long r;
	__asm__ volatile("fistpll %0" : "=m"(r) : "t"(x) : "st");
	return r;
}

/* atan(1/n) by its series, in double. */
static double atan_inv(int n)
{
	double x = 1.0 / n, x2 = x * x, term = x, sum = x;
	for (int k = 1; k < 40; k++) {
		term *= -x2;
		sum += term / (2 * k + 1);
	}
	return sum;
}

static void series(void)
{
	put_fixed("pi (Machin)", 16 * atan_inv(5) - 4 * atan_inv(239));
	double e = 1, t = 1;
	for (int k = 1; k < 25; k++) {
		t /= k;
		e += t;
	}
	put_fixed("e", e);
	long double le = 1, lt = 1;
	for (int k = 1; k < 30; k++) {
		lt /= k;
		le += lt;
	}
	put_fixed("e (long double)", (double)le);
}

static void roots(void)
{
	double x = 2, r = 1;
	for (int i = 0; i < 8; i++)
		r = (r + x / r) / 2;
	put_fixed("sqrt(2) Newton", r);
	put_fixed("sqrt(2) fsqrt", fsqrt(2));
	put_bits64("fsqrt(1/4)", fsqrt(0.25));
	volatile double s2 = fsqrt(2);
	put_bits64("fsqrt(2)", s2);
	put_bits64("fsqrt(2)^2 in double", s2 * s2);
	put_fixed("fsqrt(-1) is nan", fsqrt(-1) != fsqrt(-1));
}

static void linear_system(void)
{
	double a[4][5] = {
		{ 4, -2, 1, 3, 17 },
		{ 3, 6, -4, 2, 2.5 },
		{ 2, 1, 8, -5, 11 },
		{ 1, -3, 2, 7, -9.25 },
	};
	for (int c = 0; c < 4; c++) {
		int p = c;
		for (int r = c + 1; r < 4; r++)
			if ((a[r][c] < 0 ? -a[r][c] : a[r][c]) > (a[p][c] < 0 ? -a[p][c] : a[p][c]))
				p = r;
		for (int k = 0; k < 5; k++) {
			double t = a[c][k];
			a[c][k] = a[p][k];
			a[p][k] = t;
		}
		for (int r = 0; r < 4; r++) {
			if (r == c)
				continue;
			double f = a[r][c] / a[c][c];
			for (int k = c; k < 5; k++)
				a[r][k] -= f * a[c][k];
		}
	}
	static const char *names[4] = { "x0", "x1", "x2", "x3" };
	for (int i = 0; i < 4; i++)
		put_fixed(names[i], a[i][4] / a[i][i]);
}

static void harmonic(void)
{
	volatile float hf = 0;
	volatile double hd = 0;
	long double hl = 0;
	for (int k = 1; k <= 100000; k++) {
		hf = hf + 1.0f / k;
		hd = hd + 1.0 / k;
		hl += 1.0L / k;
	}
	put_bits64("H(100000) float", (double)hf);
	put_fixed("H(100000) double", hd);
	put_fixed("H(100000) long double", (double)hl);
	put_bits80("1/3 long double", 1.0L / 3);
	put_bits80("2^-16400 long double", 1.0L / 1.0e4000L / 1.0e930L);
}

static void conversions(void)
{
	static const long double vals[] = { 2.5L, -2.5L, 3.5L, -0.5L, 1e18L + 0.5L, 7.999999L };
	static const char *rc_names[4] = { "nearest", "down", "up", "zero" };
	unsigned short saved = get_cw();
	for (int rc = 0; rc < 4; rc++) {
		set_rc(rc);
		printf("%-8s", rc_names[rc]);
		for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++)
			printf(" %lld", rint_ll(vals[i]));
		printf("\n");
	}
	__asm__ volatile("fldcw %0" : : "m"(saved));
	/* C's truncating conversion (gcc switches RC to toward-zero around FISTP). */
	double d = -7.75;
	int i = (int)d;
	long long big = (long long)9007199254740993.0;
	printf("(int)-7.75 = %d, (long long)(2^53+1) = %lld\n", i, big);
	put_fixed("(double)(1<<30)*3", (double)(1 << 30) * 3);
	float f = 16777217; /* 2^24 + 1 rounds to 2^24 */
	printf("(float)16777217 == 16777216: %d\n", f == 16777216.0f);
}

static void comparisons(void)
{
	volatile double zero = 0;
	double nan = zero / zero, inf = 1 / zero, one = 1;
	printf("nan<1 %d nan>1 %d nan==nan %d nan!=nan %d\n", nan < one, nan > one, nan == nan, nan != nan);
	printf("inf>1e308 %d -inf<-1e308 %d 0==-0 %d\n", inf > 1e308, -inf < -1e308, zero == -zero);
	double m = one > nan ? one : nan;
	put_fixed("max(1, nan)", m);
	put_fixed("1/-0", 1 / -zero);
	put_bits64("-0.0", -zero);
}

int main(void)
{
	series();
	roots();
	linear_system();
	harmonic();
	conversions();
	comparisons();
	return 0;
}
