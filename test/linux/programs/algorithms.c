/* qsort/bsearch, setjmp/longjmp, getenv, malloc churn, string formatting of integers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>

static int icmp(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }
static jmp_buf env;
static void deep(int n) { if (n == 0) longjmp(env, 42); deep(n - 1); }

int main(void) {
  int v[1000];
  unsigned s = 12345;
  for (int i = 0; i < 1000; i++) { s = s * 1103515245 + 12345; v[i] = (s >> 8) % 100000; }
  qsort(v, 1000, sizeof v[0], icmp);
  long sum = 0;
  for (int i = 0; i < 1000; i++) sum += v[i] * (i + 1);
  printf("sorted first %d last %d weighted %ld\n", v[0], v[999], sum);
  int key = v[500];
  int *hit = bsearch(&key, v, 1000, sizeof v[0], icmp);
  printf("bsearch found %d at %ld\n", hit ? *hit : -1, hit ? (long)(hit - v) : -1L);
  int r = setjmp(env);
  if (r == 0) deep(50);
  printf("longjmp returned %d\n", r);
  const char *g = getenv("KMEMSIM_TEST_VAR");
  printf("getenv %s\n", g ? g : "(unset)");
  char *blocks[200];
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 200; i++) { blocks[i] = malloc(16 + (i * 37 % 3000)); memset(blocks[i], i, 16); }
    for (int i = 0; i < 200; i += 2) free(blocks[i]);
    for (int i = 1; i < 200; i += 2) free(blocks[i]);
  }
  char *big = malloc(1 << 20);
  memset(big, 7, 1 << 20);
  printf("big %d\n", big[12345] + big[(1 << 20) - 1]);
  free(big);
  printf("%5d|%-5d|%05x|%lld|%s\n", 42, -7, 255, -1234567890123LL, "end");
  return 7;
}
