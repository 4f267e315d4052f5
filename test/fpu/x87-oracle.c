/*
 * The host x87 as an oracle for test/fpu/floatx80.test.ts.
 * Reads lines "OP CW A B" (CW: control word in hex; A, B: 10-byte operand memory images as 20 hex
 * digits, byte 0 first) and prints "R1 R2 SW" (two 10-byte result images and the status word after
 * the instruction). Every run starts from FNINIT; A is loaded last (ST0 = A, ST1 = B).
 * Built with gcc -m32 -O0 at test time.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

typedef unsigned char u8;
static u8 a[16], b[16], r1[16], r2[16];
static unsigned short cw, sw;

#define LOAD2 "fninit\n fldcw %[cw]\n fldt %[b]\n fldt %[a]\n fnclex\n"
#define LOAD1 "fninit\n fldcw %[cw]\n fldt %[a]\n fnclex\n"
#define IO [a] "m"(a), [b] "m"(b), [cw] "m"(cw)
#define OUT [r1] "=m"(r1), [r2] "=m"(r2), [sw] "=m"(sw)

/* binary op on st0=a, st1=b, result into st0 */
#define BIN(name, insn) static void name(void) { __asm__ volatile(LOAD2 insn "\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n fstpt %[r2]\n" : OUT : IO); }
BIN(op_add, "fadd %%st(1), %%st")
BIN(op_sub, "fsub %%st(1), %%st")
BIN(op_mul, "fmul %%st(1), %%st")
BIN(op_div, "fdiv %%st(1), %%st")
BIN(op_prem, "fprem")
BIN(op_prem1, "fprem1")
BIN(op_scale, "fscale")
static void op_com(void) { __asm__ volatile(LOAD2 "fcom %%st(1)\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n fstpt %[r2]\n" : OUT : IO); }
static void op_ucom(void) { __asm__ volatile(LOAD2 "fucom %%st(1)\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n fstpt %[r2]\n" : OUT : IO); }
/* fpatan: st1=b (y), st0=a (x) → atan(b/a); fyl2x: b*log2(a); fyl2xp1: b*log2(a+1) */
#define BINPOP(name, insn) static void name(void) { __asm__ volatile(LOAD2 insn "\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n" : OUT : IO); }
BINPOP(op_patan, "fpatan")
BINPOP(op_yl2x, "fyl2x")
BINPOP(op_yl2xp1, "fyl2xp1")

#define UN(name, insn) static void name(void) { __asm__ volatile(LOAD1 insn "\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n" : OUT : IO); }
UN(op_sqrt, "fsqrt")
UN(op_rndint, "frndint")
UN(op_f2xm1, "f2xm1")
UN(op_sin, "fsin")
UN(op_cos, "fcos")
UN(op_xam, "fxam")
UN(op_tst, "ftst")
/* two results: st0 → r1, st1 → r2 */
#define UN2(name, insn) static void name(void) { __asm__ volatile(LOAD1 insn "\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n fstpt %[r2]\n" : OUT : IO); }
UN2(op_xtract, "fxtract")
UN2(op_sincos, "fsincos")
UN2(op_ptan, "fptan")

/* conversions from memory (a's first bytes) */
#define LD(name, insn) static void name(void) { __asm__ volatile("fninit\n fldcw %[cw]\n fnclex\n" insn " %[a]\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n" : OUT : IO); }
LD(op_fild16, "filds")
LD(op_fild32, "fildl")
LD(op_fild64, "fildll")
LD(op_fld32, "flds")
LD(op_fld64, "fldl")
LD(op_fbld, "fbld")
/* conversions to memory: r1 gets the stored bytes (prefilled with 0xEE) */
#define ST(name, insn) static void name(void) { memset(r1, 0xee, 10); __asm__ volatile(LOAD1 insn " %[r1]\n fnstsw %[sw]\n" : OUT : IO); }
ST(op_fist16, "fistps")
ST(op_fist32, "fistpl")
ST(op_fist64, "fistpll")
ST(op_fst32, "fstps")
ST(op_fst64, "fstpl")
ST(op_fbstp, "fbstp")
/* constants */
#define K(name, insn) static void name(void) { __asm__ volatile("fninit\n fldcw %[cw]\n fnclex\n" insn "\n fnstsw %[sw]\n fnclex\n fstpt %[r1]\n" : OUT : IO); }
K(op_ldpi, "fldpi")
K(op_ldl2e, "fldl2e")
K(op_ldl2t, "fldl2t")
K(op_ldlg2, "fldlg2")
K(op_ldln2, "fldln2")
K(op_ld1, "fld1")

static const struct { const char *name; void (*fn)(void); } ops[] = {
  {"add", op_add}, {"sub", op_sub}, {"mul", op_mul}, {"div", op_div}, {"prem", op_prem}, {"prem1", op_prem1},
  {"scale", op_scale}, {"com", op_com}, {"ucom", op_ucom}, {"patan", op_patan}, {"yl2x", op_yl2x},
  {"yl2xp1", op_yl2xp1}, {"sqrt", op_sqrt}, {"rndint", op_rndint}, {"f2xm1", op_f2xm1}, {"sin", op_sin},
  {"cos", op_cos}, {"xam", op_xam}, {"tst", op_tst}, {"xtract", op_xtract}, {"sincos", op_sincos},
  {"ptan", op_ptan}, {"fild16", op_fild16}, {"fild32", op_fild32}, {"fild64", op_fild64}, {"fld32", op_fld32},
  {"fld64", op_fld64}, {"fbld", op_fbld}, {"fist16", op_fist16}, {"fist32", op_fist32}, {"fist64", op_fist64},
  {"fst32", op_fst32}, {"fst64", op_fst64}, {"fbstp", op_fbstp}, {"ldpi", op_ldpi}, {"ldl2e", op_ldl2e},
  {"ldl2t", op_ldl2t}, {"ldlg2", op_ldlg2}, {"ldln2", op_ldln2}, {"ld1", op_ld1},
};

static void hex2(const char *s, u8 *out) {
  for (int i = 0; i < 10; i++) { unsigned v; sscanf(s + 2 * i, "%2x", &v); out[i] = (u8)v; }
}

int main(void) {
  char op[32], as[64], bs[64];
  unsigned c;
  while (scanf("%31s %x %63s %63s", op, &c, as, bs) == 4) {
    void (*fn)(void) = 0;
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) if (!strcmp(ops[i].name, op)) fn = ops[i].fn;
    if (!fn) { fprintf(stderr, "x87-oracle: unknown op %s\n", op); return 2; }
    cw = (unsigned short)c;
    hex2(as, a); hex2(bs, b);
    memset(r1, 0, 10); memset(r2, 0, 10);
    fn();
    for (int i = 0; i < 10; i++) printf("%02x", r1[i]);
    putchar(' ');
    for (int i = 0; i < 10; i++) printf("%02x", r2[i]);
    printf(" %04x\n", sw);
  }
  return 0;
}
