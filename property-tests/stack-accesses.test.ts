/**
 * The access decoder's implicit stack accesses against the CPU's own.
 *
 * src/shadow/access.ts predicts, before an instruction runs, every memory
 * access it will make; the precise stack checker marks the bytes written
 * and checks the bytes read from that prediction, so an access it misses is
 * a false report (`call *%eax` once left its return address "unwritten",
 * and the callee's RET was reported). This property runs every
 * register-form instruction of the CPU's opcode table — each one- and
 * two-byte opcode, each ModRM.reg of a group with a register operand
 * (mod = 11), with and without 0x66, plus ENTER with nesting levels 0–3 —
 * with random ESP and EBP inside a stack page, and compares the prediction
 * with what the CPU really did, recorded by instrumenting its memory unit
 * (the linear read/write accessors every executor, PUSH/POP included,
 * goes through):
 *
 * - every byte the CPU read (wrote) on the stack page lies in a predicted
 *   read (write) — also for instructions that fault part way;
 * - for an instruction that completed, every predicted stack byte was
 *   really read (written).
 *
 * Frames pushed by event delivery (INT n, INT3, INTO, a fault) are not the
 * instruction's own accesses (access.ts says so; the precise checker
 * observes delivery itself): the code runs at CPL 1, so they go to the
 * ring-0 stack from the TSS, and the property checks that the instruction
 * itself touched nothing on the stack page the decoder did not predict.
 *
 * KMEMSIM_STACK_ACCESS_RUNS sets the random register files per form (default 10).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeAt } from '../src/cpu/decoder.js';
import type { CPU } from '../src/cpu/cpu.js';
import { ONE_BYTE, TWO_BYTE } from '../src/cpu/x86_table.js';
import { Kernel } from '../src/kernel/kernel.js';
import { kva } from '../src/kernel/layout.js';
import { ACCESS_READ, ACCESS_WRITE, AccessList, InterruptedContext, decodeAccesses } from '../src/shadow/access.js';
import { enterCpl1 } from '../test/shadow/fixture.js';
import { restore, snapshot } from '../test/shadow/cpu-snapshot.js';

const RUNS = Math.max(1, Number(process.env.KMEMSIM_STACK_ACCESS_RUNS ?? 10) | 0);

interface RegForm {
  bytes: Uint8Array;
  label: string;
}

/** Every valid, modelled register form (no memory operand) of the opcode table. */
function registerForms(eip: number): RegForm[] {
  const out: RegForm[] = [];
  const seen = new Set<string>();
  const add = (b: number[]): void => {
    const bytes = new Uint8Array([...b, 1, 1, 1, 1, 1, 1, 1, 1]); // room for immediates
    const ins = decodeAt(bytes, eip);
    if (ins.def === null || ins.def.unsupported !== undefined || ins.invalidReason !== '' || ins.mem) return;
    const code = bytes.slice(0, ins.len);
    const key = code.join(',');
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ bytes: code, label: `${ins.def.name} [${Array.from(code, (x) => x.toString(16).padStart(2, '0')).join(' ')}]` });
  };
  for (const [esc, table] of [[[], ONE_BYTE], [[0x0f], TWO_BYTE]] as const) {
    for (let op = 0; op < 256; op++) {
      const def = table[op];
      if (def === undefined || def.threeByte || (esc.length === 0 && op === 0x0f)) continue;
      for (const pre of [[], [0x66]]) {
        if (!def.modrm) {
          add([...pre, ...esc, op]);
          continue;
        }
        for (const reg of def.group ? [0, 1, 2, 3, 4, 5, 6, 7] : [2]) add([...pre, ...esc, op, 0xc0 | (reg << 3)]); // rm = EAX
      }
    }
  }
  for (const level of [0, 2, 3]) add([0xc8, 0x10, 0x00, level]); // ENTER 16, level
  return out;
}

interface Access {
  lin: number;
  size: number;
  write: boolean;
}

/** Record every linear access the CPU makes through its memory unit. */
function instrument(cpu: CPU, log: Access[]): void {
  const c = cpu as unknown as Record<string, (lin: number, v?: number) => number | void>;
  for (const [name, size, write] of [['read8', 1, false], ['read16', 2, false], ['read32', 4, false], ['write8', 1, true], ['write16', 2, true], ['write32', 4, true]] as const) {
    const orig = c[name]!.bind(cpu);
    c[name] = (lin: number, v?: number) => {
      log.push({ lin: lin >>> 0, size, write });
      return orig(lin, v);
    };
  }
}

describe('implicit stack accesses of register-form instructions: the access decoder against the CPU', () => {
  const k = new Kernel({ memorySize: 16 * 1024 * 1024 });
  const cpu = k.cpu;
  cpu.jitThreshold = Infinity;
  const S = kva(k.frames.alloc()) >>> 0; // the stack page
  const D = kva(k.frames.alloc()) >>> 0; // ESI/EDI/EBX data
  const code = kva(k.frames.alloc()) >>> 0;
  const forms = registerForms(code);
  const s0 = snapshot(cpu);
  const log: Access[] = [];
  instrument(cpu, log);
  const onS = (a: number): boolean => a >>> 12 === S >>> 12;

  it('covers the table, call *%eax included', () => {
    expect(forms.length).toBeGreaterThan(400);
    for (const l of ['call [ff d0]', 'push [ff f0]', 'pop [8f c0]', 'enter [c8 10 00 03]', 'pusha [60]', 'popf [9d]']) {
      expect(forms.map((f) => f.label)).toContain(l);
    }
  });

  it('every byte the CPU touches on the stack is predicted with its kind, and a completed instruction makes every predicted stack access', () => {
    let completedWithStack = 0;
    const problems = new Set<string>();
    fc.assert(
      fc.property(
        fc.integer({ min: 0x300, max: 0xd00 }),
        fc.integer({ min: 0x300, max: 0xd00 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer(),
        (espOff, ebpOff, ecx, garbage) => {
          for (const f of forms) {
            restore(cpu, s0);
            k.mem.write(S, new Uint8Array(4096).fill(garbage & 0xff));
            k.mem.write(code, new Uint8Array(4096).fill(0x90));
            k.mem.write(code, f.bytes);
            enterCpl1(k);
            const r = cpu.regs;
            r.fill(0);
            r[0] = (code + 0x100) | 0; // EAX: a call/jmp target
            r[1] = ecx;
            r[3] = D | 0;
            r[4] = (S + espOff) | 0;
            r[5] = (S + ebpOff) | 0;
            r[6] = D | 0;
            r[7] = (D + 0x800) | 0;
            cpu.eip = code | 0;
            const predicted = new AccessList();
            decodeAccesses(decodeAt(f.bytes, code | 0), new InterruptedContext().fromCpu(cpu), predicted);
            log.length = 0;
            const stop = cpu.run(1);
            const actual = log.filter((a) => onS(a.lin) || onS(a.lin + a.size - 1));
            const covered = (lin: number, kind: number): boolean => {
              for (let i = 0; i < predicted.count; i++) {
                if (((lin - predicted.addr[i]) >>> 0) < predicted.size[i] && predicted.kind[i] & kind) return true;
              }
              return false;
            };
            for (const a of actual) {
              for (let b = 0; b < a.size; b++) {
                const lin = (a.lin + b) >>> 0;
                if (onS(lin) && !covered(lin, a.write ? ACCESS_WRITE : ACCESS_READ)) {
                  problems.add(`${f.label}: the CPU ${a.write ? 'wrote' : 'read'} stack byte ESP${lin - ((S + espOff) >>> 0) >= 0 ? '+' : ''}${lin - ((S + espOff) >>> 0)} not predicted`);
                }
              }
            }
            if (stop?.kind !== 'budget') continue; // faulted part way: only the inclusion above holds
            let any = false;
            for (let i = 0; i < predicted.count; i++) {
              for (const kind of [ACCESS_READ, ACCESS_WRITE]) {
                if (!(predicted.kind[i] & kind)) continue;
                for (let b = 0; b < predicted.size[i]; b++) {
                  const lin = (predicted.addr[i] + b) >>> 0;
                  if (!onS(lin)) continue;
                  any = true;
                  const done = actual.some((a) => a.write === (kind === ACCESS_WRITE) && ((lin - a.lin) >>> 0) < a.size);
                  if (!done) problems.add(`${f.label}: predicted a ${kind === ACCESS_WRITE ? 'write' : 'read'} of ESP${lin - ((S + espOff) >>> 0) >= 0 ? '+' : ''}${lin - ((S + espOff) >>> 0)} the CPU did not make`);
                }
              }
            }
            if (any) completedWithStack++;
          }
          return true;
        },
      ),
      { numRuns: RUNS, seed: 0x5eed },
    );
    expect([...problems]).toEqual([]);
    expect(completedWithStack).toBeGreaterThan(RUNS * 40);
  });
});
