#ifndef UTIL_H
#define UTIL_H
#ifndef BASE
#define BASE 1
#endif
int sum_pair(const int *p);
#endif
