/*
 * primes — a bit-array sieve of Eratosthenes up to a limit (argv[1],
 * default 200000), cross-checked by trial division and by a deterministic
 * Miller-Rabin test that uses 64-bit multiplication and 64-bit modulo
 * (__umoddi3). Prints counts, sums (64-bit) and a few primes.
 */
#include "libc.h"

#define MAX_LIMIT 1000000

static uint32_t sieve[MAX_LIMIT / 32 + 1]; /* bit set = composite */

static int is_composite(uint32_t n) { return (sieve[n >> 5] >> (n & 31)) & 1; }
static void mark(uint32_t n) { sieve[n >> 5] |= 1u << (n & 31); }

static int trial_division(uint32_t n)
{
	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; d <= n / d; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

static uint32_t mulmod(uint32_t a, uint32_t b, uint32_t m)
{
	return (uint32_t)((uint64_t)a * b % m);
}

static uint32_t powmod(uint32_t b, uint32_t e, uint32_t m)
{
	uint32_t r = 1 % m;
	b %= m;
	while (e) {
		if (e & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

/* Deterministic for n < 2^32 with bases 2, 7, 61 (Jaeschke). */
static int miller_rabin(uint32_t n)
{
	static const uint32_t bases[] = { 2, 7, 61 };
	if (n < 2)
		return 0;
	for (int i = 0; i < 3; i++)
		if (n % bases[i] == 0)
			return n == bases[i];
	uint32_t d = n - 1;
	int s = 0;
	while (!(d & 1)) {
		d >>= 1;
		s++;
	}
	for (int i = 0; i < 3; i++) {
		uint32_t x = powmod(bases[i], d, n);
		if (x == 1 || x == n - 1)
			continue;
		int witness = 1;
		for (int r = 1; r < s; r++) {
			x = mulmod(x, x, n);
			if (x == n - 1) {
				witness = 0;
				break;
			}
		}
		if (witness)
			return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	uint32_t limit = argc > 1 ? (uint32_t)atoi(argv[1]) : 200000;
	if (limit < 10 || limit > MAX_LIMIT) {
		dprintf(2, "limit must be in [10, %d]\n", MAX_LIMIT);
		return 2;
	}
	mark(0);
	mark(1);
	for (uint32_t i = 2; i * i <= limit; i++)
		if (!is_composite(i))
			for (uint32_t j = i * i; j <= limit; j += i)
				mark(j);

	uint32_t count = 0, twins = 0, last = 0, prev = 0, max_gap = 0, gap_at = 0;
	uint64_t sum = 0, sum_sq = 0;
	printf("first primes:");
	for (uint32_t n = 2; n <= limit; n++) {
		if (is_composite(n))
			continue;
		if (count < 20)
			printf(" %u", n);
		count++;
		sum += n;
		sum_sq += (uint64_t)n * n;
		if (prev && n - prev == 2)
			twins++;
		if (prev && n - prev > max_gap) {
			max_gap = n - prev;
			gap_at = prev;
		}
		prev = last = n;
	}
	printf("\n");
	printf("primes <= %u: %u\n", limit, count);
	printf("largest: %u\n", last);
	printf("twin pairs: %u\n", twins);
	printf("largest gap: %u after %u\n", max_gap, gap_at);
	printf("sum: %llu\n", (unsigned long long)sum);
	printf("sum of squares: %llu (0x%llx)\n", (unsigned long long)sum_sq, (unsigned long long)sum_sq);
	printf("sum of squares / count: %llu rem %llu\n",
	       (unsigned long long)(sum_sq / count), (unsigned long long)(sum_sq % count));

	uint32_t mismatches = 0;
	for (uint32_t n = 0; n <= limit; n += 97)
		if (trial_division(n) != !is_composite(n))
			mismatches++;
	printf("trial division mismatches (every 97th n): %u\n", mismatches);

	uint32_t mr_limit = limit < 3000 ? limit : 3000;
	for (uint32_t n = 0; n <= mr_limit; n++)
		if (miller_rabin(n) != !is_composite(n))
			mismatches++;
	printf("Miller-Rabin mismatches (n <= %u): %u\n", mr_limit, mismatches);

	/* Primes just below 2^32 need the 64-bit products. */
	uint32_t found = 0;
	printf("largest primes below 2^32:");
	for (uint32_t n = 0xffffffffu; found < 3; n -= 2)
		if (miller_rabin(n)) {
			printf(" %u", n);
			found++;
		}
	printf("\n");
	printf("4294967291 by trial division: %s\n", trial_division(4294967291u) ? "prime" : "composite");

	long long s = -(long long)sum_sq;
	printf("signed 64-bit: %lld / 7 = %lld, %% 7 = %lld\n", s, s / 7, s % 7);
	printf("signed 64-bit: %lld / -1000 = %lld, %% -1000 = %lld\n", s, s / -1000, s % -1000);
	uint64_t big = 0x123456789ull;
	printf("64-bit divisor: %llu / %llu = %llu rem %llu\n", (unsigned long long)sum_sq,
	       (unsigned long long)big, (unsigned long long)(sum_sq / big), (unsigned long long)(sum_sq % big));
	return mismatches ? 1 : 0;
}
