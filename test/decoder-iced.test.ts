/**
 * Differential decoding: kmemsim's decoder (src/cpu/decoder.ts, `decodeOne`)
 * against iced-x86, an independent decoder used here only as an oracle.
 *
 * What is compared, and which disagreements fail the test, is spelled out
 * in test/oracle/compare.ts (rules 1–5); how iced's memory-operand size is
 * mapped to "bytes accessed" is in test/oracle/iced.ts (`expectedMemSize`).
 *
 * Inputs:
 *  - random byte streams (seeded; KMEMSIM_DECODE_RUNS streams of 16 bytes,
 *    default 20,000), decoded instruction after instruction while both
 *    decoders agree, so the tail of each stream also exercises truncation;
 *  - a systematic sweep: every one-byte opcode, every 0F xx opcode and
 *    every 0F 38 xx / 0F 3A xx opcode, with ModRM/SIB/displacement variants
 *    under prefix combinations (66, 67, F2, F3, F0, segment overrides);
 *  - LOCK (F0, F0 66, 66 F0) on every 1-byte and 0F opcode with every ModRM;
 *  - a table of hand-checked hardware verdicts (lengths, access sizes,
 *    #UD cases), checked against both decoders;
 *  - the 15-byte limit and truncated encodings.
 *
 * Each test prints its coverage (decodes compared, kmemsim-unsupported,
 * mismatches, mnemonic agreement) and up to 60 mismatch groups; with
 * KMEMSIM_DECODE_REPORT=<file> every group is appended to that file.
 */
import { appendFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeOne } from '../src/cpu/decoder.js';
import { IcedOracle } from './oracle/iced.js';
import { DiffCollector, describeMismatch, hexBytes, type KmDecode } from './oracle/compare.js';
import { Prng } from './oracle/prng.js';

const EIP = 0x08049000;
const RUNS = Math.max(1, Number(process.env.KMEMSIM_DECODE_RUNS ?? 20_000) | 0);
const SEED = 0x6b6d656d; // 'kmem'

const iced = new IcedOracle();
afterAll(() => iced.free());

function km(bytes: Uint8Array, eip: number): { km: KmDecode | null; err: string } {
  try {
    const d = decodeOne(bytes, eip);
    return { km: { length: d.length, invalid: d.invalid, unsupported: d.unsupported, mnemonic: d.mnemonic, memSize: d.memSize, text: d.text }, err: '' };
  } catch (e) {
    return { km: null, err: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** Decode `bytes` with both decoders and record the comparison. */
function check(col: DiffCollector, source: string, bytes: Uint8Array, eip = EIP): { agreeValid: boolean; length: number } {
  const r = km(bytes, eip);
  const v = iced.decode(bytes, eip);
  const agreeValid = col.compare(source, bytes, r.km, r.err, v);
  return { agreeValid, length: v.length };
}

/** With KMEMSIM_DECODE_REPORT=<file>, every mismatch group and note is appended to that file. */
const REPORT_FILE = process.env.KMEMSIM_DECODE_REPORT;

function finish(col: DiffCollector, title: string): void {
  const s = col.summary(title, 60);
  const notes = col.notes();
  console.log(notes ? `${s}\n${notes}` : s);
  if (REPORT_FILE) appendFileSync(REPORT_FILE, `${col.summary(title, Infinity)}\n${col.notes(Infinity)}\n\n`);
  expect(col.totalMismatches, s).toBe(0);
}

// ---------------------------------------------------------------------------
// Hand-checked hardware verdicts (independent of both decoders)
// ---------------------------------------------------------------------------

type Expect =
  | { v: 'valid'; len: number; mem: number; mn?: string }
  | { v: 'invalid' }
  | { v: 'unsupported' };

const TABLE: [hex: string, expect: Expect, note: string][] = [
  // what gcc -m32 emits for padding and CET
  ['8d b4 26 00 00 00 00', { v: 'valid', len: 7, mem: 0, mn: 'lea' }, 'lea esi,[esi+eiz*1+0] (padding)'],
  ['8d 76 00', { v: 'valid', len: 3, mem: 0, mn: 'lea' }, 'lea esi,[esi+0] (padding)'],
  ['0f 1f 40 00', { v: 'valid', len: 4, mem: 0, mn: 'nop' }, 'nop dword [eax+0]'],
  ['0f 1f 84 00 00 00 00 00', { v: 'valid', len: 8, mem: 0, mn: 'nop' }, 'nop dword [eax+eax+0]'],
  ['66 0f 1f 44 00 00', { v: 'valid', len: 6, mem: 0, mn: 'nop' }, 'nop word [eax+eax+0]'],
  ['66 2e 0f 1f 84 00 00 00 00 00', { v: 'valid', len: 10, mem: 0, mn: 'nop' }, 'cs nop word [eax+eax+0]'],
  ['f3 0f 1e fb', { v: 'valid', len: 4, mem: 0 }, 'endbr32: a reserved NOP on CPUs without CET'],
  ['f3 0f bc c1', { v: 'valid', len: 4, mem: 0 }, 'rep bsf / tzcnt eax,ecx (gcc __builtin_ctz)'],
  ['f3 90', { v: 'valid', len: 2, mem: 0 }, 'pause (rep nop)'],
  // memory sizes
  ['f0 0f b1 0a', { v: 'valid', len: 4, mem: 4, mn: 'cmpxchg' }, 'lock cmpxchg [edx],ecx'],
  ['f0 0f c7 0e', { v: 'valid', len: 4, mem: 8, mn: 'cmpxchg8b' }, 'lock cmpxchg8b [esi]'],
  ['f0 ff 00', { v: 'valid', len: 3, mem: 4, mn: 'inc' }, 'lock inc dword [eax]'],
  ['f0 86 03', { v: 'valid', len: 3, mem: 1, mn: 'xchg' }, 'lock xchg [ebx],al'],
  ['f3 a5', { v: 'valid', len: 2, mem: 4, mn: 'movsd' }, 'rep movsd'],
  ['f3 a6', { v: 'valid', len: 2, mem: 1, mn: 'cmpsb' }, 'repe cmpsb'],
  ['66 f3 ab', { v: 'valid', len: 3, mem: 2, mn: 'stosw' }, 'rep stosw'],
  ['0f b6 04 24', { v: 'valid', len: 4, mem: 1, mn: 'movzx' }, 'movzx eax,byte [esp]'],
  ['0f bf 43 02', { v: 'valid', len: 4, mem: 2, mn: 'movsx' }, 'movsx eax,word [ebx+2]'],
  ['62 01', { v: 'valid', len: 2, mem: 8, mn: 'bound' }, 'bound eax,[ecx] reads two dwords'],
  ['66 62 01', { v: 'valid', len: 3, mem: 4, mn: 'bound' }, 'bound ax,[ecx] reads two words'],
  ['c4 01', { v: 'valid', len: 2, mem: 6, mn: 'les' }, 'les eax,[ecx] (m16:32)'],
  ['0f b2 01', { v: 'valid', len: 3, mem: 6, mn: 'lss' }, 'lss eax,[ecx] (m16:32)'],
  ['ff 1d 00 10 00 00', { v: 'valid', len: 6, mem: 6, mn: 'call' }, 'call far [0x1000] (m16:32)'],
  ['ff 2b', { v: 'valid', len: 2, mem: 6, mn: 'jmp' }, 'jmp far [ebx] (m16:32)'],
  ['ff 35 00 10 00 00', { v: 'valid', len: 6, mem: 4, mn: 'push' }, 'push dword [0x1000]: explicit operand only'],
  ['8f 00', { v: 'valid', len: 2, mem: 4, mn: 'pop' }, 'pop dword [eax]'],
  ['ff 10', { v: 'valid', len: 2, mem: 4, mn: 'call' }, 'call dword [eax]'],
  ['50', { v: 'valid', len: 1, mem: 0, mn: 'push' }, 'push eax: implicit stack access only'],
  ['c8 10 00 01', { v: 'valid', len: 4, mem: 0, mn: 'enter' }, 'enter 0x10,1'],
  ['a1 00 10 00 00', { v: 'valid', len: 5, mem: 4, mn: 'mov' }, 'mov eax,[0x1000] (moffs)'],
  ['67 a0 00 10', { v: 'valid', len: 4, mem: 1, mn: 'mov' }, 'mov al,[0x1000] (16-bit moffs)'],
  ['67 8b 00', { v: 'valid', len: 3, mem: 4, mn: 'mov' }, 'mov eax,[bx+si]'],
  ['67 8b 46 02', { v: 'valid', len: 4, mem: 4, mn: 'mov' }, 'mov eax,[bp+2]'],
  ['67 8b 06 34 12', { v: 'valid', len: 5, mem: 4, mn: 'mov' }, 'mov eax,[0x1234] (16-bit disp16)'],
  ['8b 04 25 00 10 00 00', { v: 'valid', len: 7, mem: 4, mn: 'mov' }, 'mov eax,[0x1000] via SIB, no base'],
  ['8b 84 24 00 01 00 00', { v: 'valid', len: 7, mem: 4, mn: 'mov' }, 'mov eax,[esp+0x100]'],
  ['66 8b 44 8d 00', { v: 'valid', len: 5, mem: 2, mn: 'mov' }, 'mov ax,[ebp+ecx*4+0]'],
  ['8c 18', { v: 'valid', len: 2, mem: 2, mn: 'mov' }, 'mov [eax],ds stores 16 bits'],
  ['69 c0 00 01 00 00', { v: 'valid', len: 6, mem: 0, mn: 'imul' }, 'imul eax,eax,0x100'],
  ['66 69 c0 00 01', { v: 'valid', len: 5, mem: 0, mn: 'imul' }, 'imul ax,ax,0x100'],
  ['6b 00 05', { v: 'valid', len: 3, mem: 4, mn: 'imul' }, 'imul eax,[eax],5'],
  ['66 c7 00 34 12', { v: 'valid', len: 5, mem: 2, mn: 'mov' }, 'mov word [eax],0x1234'],
  ['f6 00 ff', { v: 'valid', len: 3, mem: 1, mn: 'test' }, 'test byte [eax],0xff'],
  ['f7 00 ff ff ff ff', { v: 'valid', len: 6, mem: 4, mn: 'test' }, 'test dword [eax],imm32'],
  ['0f ba 20 05', { v: 'valid', len: 4, mem: 4, mn: 'bt' }, 'bt dword [eax],5'],
  ['0f a4 c0 05', { v: 'valid', len: 4, mem: 0, mn: 'shld' }, 'shld eax,eax,5'],
  ['d7', { v: 'valid', len: 1, mem: 1, mn: 'xlatb' }, 'xlat'],
  ['9a 00 00 00 00 08 00', { v: 'valid', len: 7, mem: 0, mn: 'call' }, 'call far ptr16:32'],
  ['ea 00 00 00 00 08 00', { v: 'valid', len: 7, mem: 0, mn: 'jmp' }, 'jmp far ptr16:32'],
  ['66 e8 00 00', { v: 'valid', len: 4, mem: 0, mn: 'call' }, 'call rel16'],
  ['0f 84 00 00 00 00', { v: 'valid', len: 6, mem: 0, mn: 'je' }, 'je rel32'],
  ['0f 20 00', { v: 'valid', len: 3, mem: 0, mn: 'mov' }, 'mov eax,cr0 (MOV CR ignores mod)'],
  ['cd 80', { v: 'valid', len: 2, mem: 0, mn: 'int' }, 'int 0x80'],
  ['c2 08 00', { v: 'valid', len: 3, mem: 0, mn: 'ret' }, 'ret 8'],
  // #UD on hardware
  ['f0 01 c8', { v: 'invalid' }, 'lock add eax,ecx: register destination'],
  ['f0 90', { v: 'invalid' }, 'lock nop'],
  ['f0 8b 00', { v: 'invalid' }, 'lock mov eax,[eax]: MOV is not lockable'],
  ['f0 38 00', { v: 'invalid' }, 'lock cmp [eax],al: CMP is not lockable'],
  ['f0 f6 00 01', { v: 'invalid' }, 'lock test byte [eax],1: TEST is not lockable'],
  ['0f c7 c8', { v: 'invalid' }, 'cmpxchg8b with a register operand'],
  ['8e c8', { v: 'invalid' }, 'mov cs,eax'],
  ['8d c0', { v: 'invalid' }, 'lea eax,eax (mod=11)'],
  ['c4 c0 00', { v: 'invalid' }, 'les with mod=11 (VEX prefix on AVX CPUs) — see rule: kmemsim must not decode LES'],
  ['ff f8', { v: 'invalid' }, 'FF /7'],
  ['ff d8', { v: 'invalid' }, 'call far with a register operand'],
  ['fe 10', { v: 'invalid' }, 'FE /2'],
  ['0f 24 c0', { v: 'invalid' }, 'mov eax,tr0 (removed after the 486)'],
  ['0f a6 00', { v: 'invalid' }, '0F A6 (486 A-step CMPXCHG, #UD since)'],
  ['0f 04', { v: 'invalid' }, '0F 04'],
  ['e8 00 00', { v: 'invalid' }, 'truncated call rel32'],
  ['66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90', { v: 'invalid' }, '16 bytes: over the 15-byte limit'],
  // valid but not modelled by kmemsim
  ['d9 00', { v: 'valid', len: 2, mem: 4, mn: 'fld' }, 'fld dword [eax] (x87)'],
  ['db e3', { v: 'valid', len: 2, mem: 0, mn: 'fninit' }, 'fninit (x87)'],
  ['db 28', { v: 'valid', len: 2, mem: 10, mn: 'fld' }, 'fld tbyte [eax]'],
  ['dd 30', { v: 'valid', len: 2, mem: 108, mn: 'fnsave' }, 'fnsave [eax]: the 108-byte image'],
  ['66 d9 20', { v: 'valid', len: 3, mem: 14, mn: 'fldenv' }, 'fldenv [eax] with 66: the 14-byte image'],
  ['df e0', { v: 'valid', len: 2, mem: 0, mn: 'fnstsw' }, 'fnstsw ax'],
  ['db 08', { v: 'unsupported' }, 'fisttp dword [eax] (SSE3)'],
  ['d9 08', { v: 'invalid' }, 'D9 /1 has no memory form'],
  ['0f 6f 00', { v: 'unsupported' }, 'movq mm0,[eax] (MMX)'],
  ['0f 28 00', { v: 'unsupported' }, 'movaps xmm0,[eax] (SSE)'],
  ['f3 0f 10 00', { v: 'unsupported' }, 'movss xmm0,[eax] (SSE)'],
  ['66 0f ef c0', { v: 'unsupported' }, 'pxor xmm0,xmm0 (SSE2)'],
];

function parseHex(h: string): Uint8Array {
  return Uint8Array.from(h.trim().split(/\s+/), (x) => parseInt(x, 16));
}

describe('kmemsim decoder vs iced-x86', () => {
  it('hand-checked table: hardware verdicts, lengths and access sizes', () => {
    const col = new DiffCollector();
    const failures: string[] = [];
    for (const [h, exp, note] of TABLE) {
      const bytes = parseHex(h);
      const r = km(bytes, EIP);
      const v = iced.decode(bytes, EIP);
      // the oracle itself must agree with the hand-checked verdict
      const icedOk =
        exp.v === 'invalid' ? v.invalid : exp.v === 'unsupported' ? !v.invalid : !v.invalid && v.length === exp.len && v.memSize === exp.mem;
      if (!icedOk) failures.push(`ORACLE disagrees with table for ${h} (${note}): iced ${v.invalid ? 'invalid' : `valid len=${v.length} memSize=${v.memSize} ${v.text}`}`);
      col.compare(`table: ${note}`, bytes, r.km, r.err, v);
      const k = r.km;
      let ok: boolean;
      if (!k) ok = false;
      else if (exp.v === 'invalid') ok = k.invalid;
      else if (exp.v === 'unsupported') ok = k.unsupported && !k.invalid;
      else ok = !k.invalid && !k.unsupported && k.length === exp.len && k.memSize === exp.mem;
      if (!ok) {
        const kmv = r.err
          ? `THREW ${r.err}`
          : k
            ? `${k.invalid ? 'invalid' : k.unsupported ? 'unsupported' : 'valid'} len=${k.length} memSize=${k.memSize} mnem=${JSON.stringify(k.mnemonic)} text=${JSON.stringify(k.text)}`
            : '?';
        const want = exp.v === 'valid' ? `valid len=${exp.len} memSize=${exp.mem}` : exp.v;
        failures.push(`${h}  (${note})\n    expected: ${want}\n    kmemsim:  ${kmv}\n    iced:     ${v.invalid ? 'invalid' : `valid len=${v.length} ${v.text}`}`);
      }
    }
    const s = col.summary('hand-checked table vs iced');
    console.log(`hand-checked table: ${TABLE.length} encodings, ${failures.length} disagreements with the expected hardware verdict`);
    expect(failures, `table disagreements:\n${failures.join('\n')}`).toEqual([]);
    expect(col.totalMismatches, s).toBe(0);
  });

  it(`random byte streams (${RUNS} x 16 bytes, seed 0x${SEED.toString(16)})`, () => {
    const col = new DiffCollector();
    const rng = new Prng(SEED);
    const buf = new Uint8Array(16);
    const PREFIXES = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];
    const GROUPS = [0x80, 0x81, 0x83, 0x8f, 0xc0, 0xc1, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff];
    const GROUPS_0F = [0x00, 0x01, 0xba, 0xc7, 0x1f, 0x18, 0xae, 0xb1, 0xc1, 0xb6, 0xbe, 0xa4, 0xac];
    let streams = 0;
    let decodes = 0;
    const byKind = { uniform: 0, prefixed: 0, twoByte: 0, group: 0 };
    for (let n = 0; n < RUNS; n++) {
      rng.fill(buf);
      // Half the streams are uniform bytes; the other half are biased towards
      // prefixes, the 0F map and ModRM groups, which uniform bytes rarely reach.
      const r = rng.below(8);
      if (r < 4) byKind.uniform++;
      else if (r < 6) {
        byKind.prefixed++;
        const k = 1 + rng.below(4);
        for (let i = 0; i < k; i++) buf[i] = rng.pick(PREFIXES);
      } else if (r < 7) {
        byKind.twoByte++;
        buf[0] = 0x0f;
        if (rng.below(4) === 0) buf[1] = rng.pick(GROUPS_0F);
      } else {
        byKind.group++;
        if (rng.below(2) === 0) buf[0] = rng.pick(GROUPS);
        else {
          buf[0] = 0x0f;
          buf[1] = rng.pick(GROUPS_0F);
        }
      }
      streams++;
      let off = 0;
      while (off < buf.length) {
        const sub = buf.subarray(off);
        decodes++;
        const { agreeValid, length } = check(col, `random stream #${n} offset ${off} [${hexBytes(buf)}]`, sub, EIP + off);
        if (!agreeValid || length <= 0) break;
        off += length;
      }
    }
    console.log(
      `random streams: ${streams} streams (${byKind.uniform} uniform, ${byKind.prefixed} prefix-led, ${byKind.twoByte} 0F-led, ${byKind.group} ModRM-group-led), ` +
        `${decodes} instructions compared, kmemsim unsupported ${col.counts.kmUnsupported}, mismatches ${col.totalMismatches}`,
    );
    finish(col, `random streams: ${streams} streams, ${decodes} decodes`);
  });

  it('systematic sweep: every opcode of the 1-byte, 0F, 0F38 and 0F3A maps with ModRM/SIB/prefix variants', () => {
    const col = new DiffCollector();
    const buf = new Uint8Array(16);
    // Every ModRM byte under the prefixes that change decoding the most;
    // a representative ModRM set (every mod x reg, rm in {0,4,5,6}) under the rest.
    // (LOCK alone is swept by its own test below.)
    const FULL: number[][] = [[], [0x66], [0x67], [0xf3], [0xf2]];
    const PARTIAL: number[][] = [
      [0x26], [0x2e], [0x36], [0x3e], [0x64], [0x65],
      [0x66, 0x67], [0xf0, 0x66], [0xf3, 0x66], [0x66, 0xf2], [0x67, 0xf0], [0xf0, 0x2e], [0x2e, 0x3e, 0x66], [0xf2, 0xf3], [0xf3, 0xf2],
    ];
    const ALL_MODRM = Array.from({ length: 256 }, (_, i) => i);
    const SOME_MODRM: number[] = [];
    for (let mod = 0; mod < 4; mod++) for (let reg = 0; reg < 8; reg++) for (const rm of [0, 4, 5, 6]) SOME_MODRM.push((mod << 6) | (reg << 3) | rm);
    const SIBS = [0x24, 0x65, 0xe5, 0x98, 0x0d];
    const TAIL = [0x78, 0x56, 0x34, 0x12, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a];
    const maps: { name: string; esc: number[]; prefixSets: [number[][], number[]][] }[] = [
      { name: '1-byte', esc: [], prefixSets: [[FULL, ALL_MODRM], [PARTIAL, SOME_MODRM]] },
      { name: '0F', esc: [0x0f], prefixSets: [[FULL, ALL_MODRM], [PARTIAL, SOME_MODRM]] },
      { name: '0F38', esc: [0x0f, 0x38], prefixSets: [[[[], [0x66], [0xf2], [0xf3], [0xf0], [0x66, 0xf2]], SOME_MODRM]] },
      { name: '0F3A', esc: [0x0f, 0x3a], prefixSets: [[[[], [0x66], [0xf2], [0xf3]], SOME_MODRM]] },
    ];
    const perMap: string[] = [];
    for (const m of maps) {
      const before = col.counts.compared;
      for (let op = 0; op < 256; op++) {
        for (const [prefixSets, modrms] of m.prefixSets) {
          for (const pre of prefixSets) {
            for (const modrm of modrms) {
              let i = 0;
              for (const p of pre) buf[i++] = p;
              for (const e of m.esc) buf[i++] = e;
              buf[i++] = op;
              buf[i++] = modrm;
              buf[i++] = SIBS[(modrm * 7 + op) % SIBS.length];
              for (let t = 0; i < buf.length; t++) buf[i++] = TAIL[t];
              check(col, `sweep ${m.name}`, buf);
            }
          }
        }
      }
      perMap.push(`${m.name}: ${col.counts.compared - before}`);
    }
    console.log(`systematic sweep: ${col.counts.compared} encodings (${perMap.join(', ')}), kmemsim unsupported ${col.counts.kmUnsupported}, mismatches ${col.totalMismatches}`);
    finish(col, 'systematic sweep');
  });

  it('x87 escapes D8–DF: every ModRM, with and without 66, agree on validity, length, access size and mnemonic', () => {
    // kmemsim decodes the undocumented FSTP1 alias D9 D8+i as FSTP (iced: FSTPNCE); FISTTP is SSE3 (#UD here).
    const SAME = new Map([['fstpnce', 'fstp']]);
    const bad: string[] = [];
    let compared = 0;
    for (let esc = 0xd8; esc <= 0xdf; esc++) {
      for (let modrm = 0; modrm < 256; modrm++) {
        for (const pre of [[], [0x66], [0x67], [0x26]]) {
          const bytes = Uint8Array.from([...pre, esc, modrm, 0x24, 0x11, 0x22, 0x33, 0x44, 0x55]);
          const k = decodeOne(bytes, EIP);
          const v = iced.decode(bytes, EIP);
          compared++;
          const hex = hexBytes(bytes, Math.max(k.length, v.length));
          if (v.invalid !== k.invalid) bad.push(`${hex}: kmemsim ${k.invalid ? 'invalid' : k.mnemonic}, iced ${v.invalid ? 'invalid' : v.mnemonic}`);
          else if (!v.invalid && k.unsupported && v.mnemonic !== 'fisttp') bad.push(`${hex}: ${v.mnemonic} is not modelled`);
          else if (!v.invalid && !k.unsupported) {
            if (k.length !== v.length || k.memSize !== v.memSize) bad.push(`${hex}: kmemsim len ${k.length} mem ${k.memSize}, iced len ${v.length} mem ${v.memSize} (${v.text})`);
            else if ((SAME.get(v.mnemonic) ?? v.mnemonic) !== k.mnemonic) bad.push(`${hex}: kmemsim ${k.mnemonic}, iced ${v.mnemonic}`);
          }
        }
      }
    }
    console.log(`x87 sweep: ${compared} encodings compared, ${bad.length} mismatches`);
    expect(bad.slice(0, 40), bad.slice(0, 40).join('\n')).toEqual([]);
  });

  it('LOCK prefix on every opcode and every ModRM (1-byte and 0F maps)', () => {
    // LOCK is #UD unless the instruction is one of the lockable read-modify-write
    // forms AND its destination is memory (SDM Vol. 2 "LOCK"). iced (with
    // DecoderOptions.None) applies exactly that rule; kmemsim must agree.
    const col = new DiffCollector();
    const buf = new Uint8Array(16);
    const TAIL = [0x78, 0x56, 0x34, 0x12, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a];
    let lockValid = 0;
    for (const pre of [[0xf0], [0xf0, 0x66], [0x66, 0xf0]]) {
      for (const esc of [[], [0x0f]]) {
        for (let op = 0; op < 256; op++) {
          for (let modrm = 0; modrm < 256; modrm++) {
            let i = 0;
            for (const p of pre) buf[i++] = p;
            for (const e of esc) buf[i++] = e;
            buf[i++] = op;
            buf[i++] = modrm;
            buf[i++] = 0x24;
            for (let t = 0; i < buf.length; t++) buf[i++] = TAIL[t];
            if (check(col, `lock ${hexBytes(pre)}`, buf).agreeValid) lockValid++;
          }
        }
      }
    }
    const c = col.counts;
    console.log(
      `LOCK sweep: ${c.compared} lock-prefixed encodings, both invalid ${c.bothInvalid}, both valid ${lockValid}, ` +
        `kmemsim unsupported ${c.kmUnsupported}, mismatches ${col.totalMismatches}`,
    );
    finish(col, 'LOCK prefix sweep');
  });

  it('15-byte limit and truncated encodings', () => {
    const col = new DiffCollector();
    const buf = new Uint8Array(32);
    const MODRMS = [0x00, 0x04, 0x05, 0x44, 0x84, 0xc0, 0x0c, 0x1d];
    const TAIL = [0x24, 0x78, 0x56, 0x34, 0x12, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
    let truncations = 0;
    let limits = 0;
    for (const esc of [[], [0x0f]]) {
      for (let op = 0; op < 256; op++) {
        for (const pre of [[], [0x66]]) {
          for (const modrm of MODRMS) {
            const base: number[] = [...pre, ...esc, op, modrm, ...TAIL];
            buf.fill(0x90);
            buf.set(base.slice(0, 16));
            const full = buf.subarray(0, 16);
            const r = km(full, EIP);
            const v = iced.decode(full, EIP);
            if (!col.compare('limit/truncation base', full, r.km, r.err, v)) continue;
            const len = v.length;
            // every proper prefix of the instruction is a truncated encoding
            for (let t = 1; t < len; t++) {
              truncations++;
              check(col, `truncated to ${t} of ${len}`, buf.slice(0, t));
            }
            // pad with DS overrides up to exactly 15 bytes (valid), then 16 (invalid)
            for (const total of [15, 16]) {
              const pad = total - len;
              if (pad < 1) continue;
              limits++;
              const b = new Uint8Array(32).fill(0x90);
              b.fill(0x3e, 0, pad);
              b.set(base.slice(0, len), pad);
              check(col, `padded with ${pad} x 3E to ${total} bytes`, b);
            }
          }
        }
      }
    }
    console.log(`length limit: ${limits} padded encodings (15 and 16 bytes), ${truncations} truncated encodings, mismatches ${col.totalMismatches}`);
    finish(col, 'length limit and truncation');
  });

  it('failure messages show bytes and both verdicts', () => {
    // Guard for the reporting path itself (no kmemsim involved).
    const v = iced.decode(parseHex('f0 01 c8'), EIP);
    const text = describeMismatch({
      kind: 'iced-invalid-kmemsim-valid',
      source: 'self-test',
      bytes: parseHex('f0 01 c8'),
      km: { length: 3, invalid: false, unsupported: false, mnemonic: 'add', memSize: 0, text: 'lock add eax, ecx' },
      kmError: '',
      iced: v,
      detail: '',
    });
    expect(text).toContain('F0 01 C8');
    expect(text).toContain('kmemsim: valid len=3');
    expect(text).toContain('iced:    invalid');
  });
});
