/*
 * sort — sorts the same pseudo-random data four ways (library qsort,
 * a top-down merge sort, a heap sort, and an insertion sort on a prefix),
 * checks that they agree, and prints order statistics and checksums.
 * Also sorts records with qsort to exercise a non-int element size.
 */
#include "libc.h"

#define N 3000

static uint32_t rng_state = 0x12345678u;

static uint32_t xorshift32(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void merge_sort(int *a, int *tmp, int n)
{
	if (n < 2)
		return;
	int h = n / 2;
	merge_sort(a, tmp, h);
	merge_sort(a + h, tmp, n - h);
	int i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
	while (i < h)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	memcpy(a, tmp, (size_t)n * sizeof *a);
}

static void sift_down(int *a, int root, int n)
{
	for (;;) {
		int child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[root] >= a[child])
			return;
		int t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

static void heap_sort(int *a, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		sift_down(a, i, n);
	for (int end = n - 1; end > 0; end--) {
		int t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end);
	}
}

static void insertion_sort(int *a, int n)
{
	for (int i = 1; i < n; i++) {
		int v = a[i], j = i;
		while (j > 0 && a[j - 1] > v) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = v;
	}
}

static uint32_t fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;
	while (n--) {
		h ^= *b++;
		h *= 16777619u;
	}
	return h;
}

struct record {
	char name[12];
	short key;
	unsigned char tag;
};

static int cmp_record(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	if (x->key != y->key)
		return x->key - y->key;
	return strcmp(x->name, y->name);
}

static int data[N], a1[N], a2[N], a3[N], tmp[N];
static struct record recs[40];

int main(void)
{
	for (int i = 0; i < N; i++)
		data[i] = (int)(xorshift32() % 200001u) - 100000;
	printf("generated %d values, checksum %08x\n", N, fnv1a(data, sizeof data));

	memcpy(a1, data, sizeof data);
	memcpy(a2, data, sizeof data);
	memcpy(a3, data, sizeof data);
	qsort(a1, N, sizeof a1[0], cmp_int);
	merge_sort(a2, tmp, N);
	heap_sort(a3, N);

	int sorted = 1;
	for (int i = 1; i < N; i++)
		if (a1[i - 1] > a1[i])
			sorted = 0;
	printf("qsort sorted: %s\n", sorted ? "yes" : "NO");
	printf("merge sort agrees: %s\n", memcmp(a1, a2, sizeof a1) == 0 ? "yes" : "NO");
	printf("heap sort agrees: %s\n", memcmp(a1, a3, sizeof a1) == 0 ? "yes" : "NO");

	memcpy(tmp, data, 500 * sizeof data[0]);
	insertion_sort(tmp, 500);
	memcpy(a2, data, 500 * sizeof data[0]);
	qsort(a2, 500, sizeof a2[0], cmp_int);
	printf("insertion sort (500) agrees: %s\n", memcmp(tmp, a2, 500 * sizeof tmp[0]) == 0 ? "yes" : "NO");

	long long sum = 0;
	for (int i = 0; i < N; i++)
		sum += a1[i];
	printf("min %d  max %d  median %d  sum %lld\n", a1[0], a1[N - 1], a1[N / 2], sum);
	int dups = 0;
	for (int i = 1; i < N; i++)
		dups += a1[i] == a1[i - 1];
	printf("duplicates: %d\n", dups);
	printf("sorted checksum %08x\n", fnv1a(a1, sizeof a1));

	static const char *names[] = { "ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen" };
	for (int i = 0; i < 40; i++) {
		memset(&recs[i], 0, sizeof recs[i]);
		strcpy(recs[i].name, names[xorshift32() % 8]);
		recs[i].key = (short)(xorshift32() % 10);
		recs[i].tag = (unsigned char)i;
	}
	qsort(recs, 40, sizeof recs[0], cmp_record);
	int ok = 1;
	for (int i = 1; i < 40; i++)
		if (cmp_record(&recs[i - 1], &recs[i]) > 0)
			ok = 0;
	printf("records sorted: %s\n", ok ? "yes" : "NO");
	for (int i = 0; i < 40; i += 8)
		printf("  rec[%2d] key=%d name=%-4s\n", i, recs[i].key, recs[i].name);
	return sorted && ok ? 0 : 1;
}
