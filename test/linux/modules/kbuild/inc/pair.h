int pair_sum(int a, int b);
extern int pair_calls;
