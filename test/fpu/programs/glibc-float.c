/*
 * A static glibc program that formats and parses floating point: glibc's
 * i386 printf/strtod and libm use the x87 (kmemsim's CPUID reports an FPU
 * and no SSE, so glibc picks its i686 x87 routines). Its output must be
 * byte-identical natively and in kmemsim (test/fpu/glibc-float.test.ts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
int main(void) {
  double d = 3.14159265358979;
  long double ld = 1.0L / 3.0L;
  printf("%f %e %g %.20Lf\n", d, d * 1e10, d / 1e7, ld);
  double s = strtod("2.718281828459045e-3", NULL);
  printf("%.17g %.17g %.17g %.17g\n", s, sqrt(2.0), sin(1.0), pow(2.5, 3.7));
  printf("%.10f %.10f %.6e\n", exp(1.0), log(10.0), atan2(1.0, -2.0));
  long double x = 0; for (int i = 1; i <= 1000; i++) x += 1.0L / i;
  printf("%.25Lg %La\n", x, x);
  printf("%a %.3f %g %g\n", 0.1, -0.0005, 1e300 * 1e10, -0.0);
  char buf[64];
  for (int i = 0; i < 6; i++) {
    double v = strtod((const char *[]){"1e-320", "0x1.8p3", "-inf", "nan", "123456789012345678901234567890", "4.9406564584124654e-324"}[i], NULL);
    snprintf(buf, sizeof buf, "%.17g", v);
    printf("%s %.3Le %d\n", buf, (long double)v * 3, (int)(v > 0));
  }
  printf("%.30Lf\n", 3.14159265358979323846264338327950288L);
  printf("%.15g %.15g %.15g %.15g\n", cos(1e10), tan(0.5), log1p(1e-10), expm1(1e-5));
  return 0;
}
