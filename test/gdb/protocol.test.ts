/**
 * The gdb stub's protocol without gdb: framing (checksums, NAK of a bad
 * packet, escapes, Ctrl-C, end of input mid-packet), the packets against a
 * bare CPU (registers, memory, breakpoints, the target description), and
 * the CLI with a raw socket: a malformed packet is NAKed, an unmapped
 * address is an error reply, and a client that disconnects in the middle
 * of a packet leaves the guest to finish exactly as without gdb.
 */
import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CPU } from '../../src/cpu/cpu.js';
import { checksum, frame, PacketReader, type ByteSource } from '../../src/gdb/packets.js';
import { GdbStub } from '../../src/gdb/stub.js';
import { REGISTERS, targetXml } from '../../src/gdb/registers.js';
import { ROOT } from '../module/helpers.js';
import { finished, gdbSkip, startKmemsim } from './helpers.js';

/** A byte source over a fixed input; what is written is kept. */
function source(input: string): ByteSource & { written: string; pollByte(): number } {
  const bytes = Buffer.from(input, 'latin1');
  let i = 0;
  const s = {
    written: '',
    readByte: (): number | null => (i < bytes.length ? bytes[i++]! : null),
    pollByte: (): number => (i < bytes.length ? bytes[i++]! : -1),
    write(d: string | Uint8Array): void {
      s.written += typeof d === 'string' ? d : Buffer.from(d).toString('latin1');
    },
  };
  return s;
}

const pkt = (data: string): string => Buffer.from(frame(data)).toString('latin1');
const text = (d: Uint8Array): string => Buffer.from(d).toString('latin1');

describe('packet framing', () => {
  it('acknowledges a good packet, NAKs a bad checksum, skips noise, reports Ctrl-C and the end', () => {
    const io = source(`+junk${pkt('qSupported')}$g#00${pkt('g')}\x03$m10,4`);
    const r = new PacketReader(io);
    const a = r.next();
    expect(a.kind === 'packet' && text(a.data)).toBe('qSupported');
    const b = r.next(); // the bad one is NAKed and skipped
    expect(b.kind === 'packet' && text(b.data)).toBe('g');
    expect(io.written).toBe('+-+');
    expect(r.rejected).toBe(1);
    expect(r.next().kind).toBe('interrupt');
    expect(r.next().kind).toBe('eof'); // disconnected mid-packet
  });

  it('escapes and unescapes binary data; the checksum covers the escaped bytes', () => {
    const framed = pkt('X1,4:a#b$c}d*');
    expect(framed).toBe(`$X1,4:a}\x03b}\x04c}]d}\n#${checksum(Buffer.from('X1,4:a}\x03b}\x04c}]d}\n', 'latin1')).toString(16).padStart(2, '0')}`);
    const r = new PacketReader(source(framed));
    const p = r.next();
    expect(p.kind === 'packet' && text(p.data)).toBe('X1,4:a#b$c}d*');
  });

  it('a packet too long is refused; a new $ restarts the packet', () => {
    const io = source(`$${'a'.repeat(0x10001)}#00${pkt('?')}`);
    const r = new PacketReader(io);
    const p = r.next();
    expect(p.kind === 'packet' && text(p.data)).toBe('?');
    expect(io.written).toBe('-+');
    const again = new PacketReader(source(`$garbage${pkt('g')}`)).next();
    expect(again.kind === 'packet' && text(again.data)).toBe('g');
  });
});

describe('packets against a bare CPU', () => {
  const setup = (): { cpu: CPU; stub: GdbStub; io: ReturnType<typeof source>; replies(): string[] } => {
    const cpu = new CPU({ memorySize: 1 << 20 });
    const io = source('');
    const memory = {
      peek8: (a: number): number => ((a >>> 0) < cpu.mem.size ? cpu.mem8[a >>> 0]! : -1),
      poke: (a: number, d: Uint8Array): boolean => {
        if ((a >>> 0) + d.length > cpu.mem.size) return false;
        cpu.mem8.set(d, a >>> 0);
        return true;
      },
    };
    const stub = new GdbStub(io, cpu, memory);
    const replies = (): string[] => {
      const out = [...io.written.matchAll(/\$([^#]*)#[0-9a-f]{2}/g)].map((m) => m[1]!);
      io.written = '';
      return out;
    };
    return { cpu, stub, io, replies };
  };

  it('g, p and P: gdb\'s i386 order, little-endian; P changes the CPU; unknown registers are errors', () => {
    const { cpu, stub, replies } = setup();
    cpu.regs[0] = 0x11223344;
    cpu.eip = 0x1000;
    stub.handle('g');
    const g = replies()[0]!;
    expect(g.length).toBe(2 * REGISTERS.reduce((a, r) => a + r.bits / 8, 0));
    expect(g.slice(0, 8)).toBe('44332211');
    expect(g.slice(64, 72)).toBe('00100000'); // eip, register 8
    stub.handle('p8');
    stub.handle('P1=78563412');
    stub.handle('p1');
    stub.handle('p99');
    stub.handle('P8=zz');
    stub.handle('Pa=08000000'); // cs: shown, not written
    expect(replies()).toEqual(['00100000', 'OK', '78563412', 'E16', 'E16', 'E16']);
    expect(cpu.regs[1]).toBe(0x12345678);
  });

  it('m, M and X: memory; an address outside it is E14 (EFAULT), a short read stops at the end', () => {
    const { cpu, stub, replies } = setup();
    stub.handle('M100,4:deadbeef');
    stub.handle('m100,4');
    stub.handle('X104,2:\x01\x02');
    stub.handle('m104,2');
    stub.handle('mfffffff0,4');
    stub.handle(`m${(cpu.mem.size - 2).toString(16)},4`);
    stub.handle('M100,4:zz');
    stub.handle('m100');
    expect(replies()).toEqual(['OK', 'deadbeef', 'OK', '0102', 'E0e', '0000', 'E16', 'E16']);
  });

  it('Z0/z0 keep breakpoints outside memory; Z2-Z4 watchpoints; unknown packets get the empty reply', () => {
    const { cpu, stub, replies } = setup();
    cpu.mem8[0x2000] = 0x90;
    stub.handle('Z0,2000,1');
    stub.handle('Z2,3000,4');
    stub.handle('Z9,1,1');
    stub.handle('vMustReplyEmpty');
    stub.handle('qSomethingElse');
    expect(replies()).toEqual(['OK', 'OK', 'E16', '', '']);
    expect(stub.breakpoints.has(0x2000)).toBe(true);
    expect(cpu.mem8[0x2000]).toBe(0x90); // no INT3 written
    expect(stub.watchpoints).toEqual([{ type: 2, address: 0x3000, length: 4 }]);
    stub.handle('z0,2000,1');
    stub.handle('z2,3000,4');
    expect(stub.breakpoints.size + stub.watchpoints.length).toBe(0);
  });

  it('qXfer:features:read returns the target description in pieces', () => {
    const { stub, replies } = setup();
    let xml = '';
    for (let off = 0; ; off += 0x100) {
      stub.handle(`qXfer:features:read:target.xml:${off.toString(16)},100`);
      const r = replies()[0]!;
      xml += r.slice(1);
      if (r[0] === 'l') break;
      expect(r[0]).toBe('m');
    }
    expect(xml).toBe(targetXml());
    expect(xml).toContain('<feature name="org.gnu.gdb.i386.core">');
    expect(xml).toContain('name="st7" bitsize="80" type="i387_ext" regnum="23"');
    expect(xml).toContain('name="fop" bitsize="32" type="int" regnum="31"');
    expect(xml).toContain('name="cr2" bitsize="32" type="int32" regnum="33"');
    if (!spawnSync('xmllint', ['--version']).error) {
      const r = spawnSync('xmllint', ['--noout', '-'], { input: xml });
      expect(r.status, String(r.stderr)).toBe(0);
    }
  });
});

const skip = gdbSkip(false);
if (skip) console.log(`test/gdb/protocol.test.ts: CLI tests skipped: ${skip}`);

/** `kmemsim ARGS` as a child, asynchronously (the test worker keeps answering vitest meanwhile). */
function kmemsimChild(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/kmemsim.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString('latin1')));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe.skipIf(skip !== null)('kmemsim run --gdb with a raw socket', () => {
  /** Connect, send `chunks` one after another (each after the reply to the previous), then close. */
  async function talk(port: number, chunks: string[], closeAfter = true): Promise<string> {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => void (got += d.toString('latin1')));
    await new Promise<void>((resolve) => sock.on('connect', () => resolve()));
    for (const c of chunks) {
      const before = got.length;
      sock.write(Buffer.from(c, 'latin1'));
      // Wait for an answer (an ack and a reply), or a moment for a packet that gets none.
      for (let i = 0; i < 100 && (got.length === before || (got.endsWith('+') && c.includes('#') && !c.startsWith('$D'))); i++) await new Promise((r) => setTimeout(r, 20));
    }
    if (closeAfter) sock.destroy();
    return got;
  }

  it('a malformed packet is NAKed, an unmapped address is E14; a disconnect mid-packet leaves the guest to finish as without gdb', async () => {
    const plain = await kmemsimChild(['run', 'test/gdb/counter.c']);
    const k = await startKmemsim(['test/gdb/counter.c']);
    const got = await talk(k.port, ['$g#00', pkt('m0,4'), pkt('qC'), '$mc000']);
    expect(got.startsWith('-')).toBe(true);
    expect(got).toContain(pkt('E0e'));
    expect(got).toContain(pkt('QC1'));
    expect(await finished(k)).toBe(plain.status);
    expect(k.stdout()).toBe(plain.stdout);
    expect(k.stderr()).toMatch(/kmemsim: gdb disconnected; the guest runs on/);
  });

  it('c runs to the end and gdb is told the exit status (W); a second client is refused while one is connected', async () => {
    const k = await startKmemsim(['test/gdb/counter.c']);
    const sock = connect(k.port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => void (got += d.toString('latin1')));
    await new Promise<void>((resolve) => sock.on('connect', () => resolve()));
    const other = connect(k.port, '127.0.0.1');
    const refused = await new Promise<boolean>((resolve) => {
      other.on('close', () => resolve(true));
      other.on('data', () => resolve(false));
      setTimeout(() => resolve(false), 3000);
    });
    expect(refused).toBe(true);
    sock.write(Buffer.from(pkt('c'), 'latin1'));
    expect(await finished(k)).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toContain(pkt('W00'));
    sock.destroy();
  });

  it('Ctrl-C stops a running guest (T02, SIGINT); after D (detach) it finishes as without gdb', async () => {
    const plain = await kmemsimChild(['run', 'build/examples/primes-O0']);
    const k = await startKmemsim(['build/examples/primes-O0']);
    const sock = connect(k.port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => void (got += d.toString('latin1')));
    await new Promise<void>((resolve) => sock.on('connect', () => resolve()));
    sock.write(Buffer.from(pkt('QStartNoAckMode') + pkt('c'), 'latin1'));
    await new Promise((r) => setTimeout(r, 300));
    sock.write(Buffer.from('\x03', 'latin1'));
    for (let i = 0; i < 200 && !got.includes('$T02'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toContain(pkt('T02thread:1;'));
    sock.write(Buffer.from(pkt('g'), 'latin1')); // no ack needed any more
    for (let i = 0; i < 100 && !/\$[0-9a-f]{100,}#/.test(got); i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toMatch(/\$[0-9a-f]{100,}#/);
    sock.write(Buffer.from(pkt('D'), 'latin1'));
    expect(await finished(k, 120_000)).toBe(plain.status);
    expect(k.stdout()).toBe(plain.stdout);
    expect(k.stderr()).toMatch(/kmemsim: gdb detached; the guest runs on/);
    sock.destroy();
  }, 150_000);

  it('--verbose without --gdb prints the add-symbol-file commands too', async () => {
    const r = await kmemsimChild(['run', 'test/gdb/counter.c', '--verbose']);
    expect(r.status).toBe(0);
    const loaded = /kmemsim: loaded counter\.c at 0x[0-9a-f]+ \(\d+ bytes: \.text (0x[0-9a-f]+), \.rodata\.str1\.1 (0x[0-9a-f]+), \.bss (0x[0-9a-f]+)\)/.exec(r.stderr);
    expect(loaded).not.toBeNull();
    expect(r.stderr).toContain(`kmemsim: gdb: add-symbol-file counter.o -s .text ${loaded![1]} -s .rodata.str1.1 ${loaded![2]} -s .bss ${loaded![3]} (the object counter.c compiles to; --gdb writes it and prints its path)`);
    expect(r.stderr).toMatch(/kmemsim: gdb: add-symbol-file \S+build\/runtime\/runtime\.o -s \.text 0x[0-9a-f]+( -s \S+ 0x[0-9a-f]+)*\n/);
  });

  it('--gdb with a port in use is a usage error (2) before anything runs', async () => {
    const k = await startKmemsim(['test/gdb/counter.c']);
    const r = await kmemsimChild(['run', 'test/gdb/counter.c', '--gdb', String(k.port)]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(`kmemsim: --gdb: cannot listen on 127.0.0.1:${k.port}: address already in use`);
    k.child.kill('SIGKILL');
    await k.exited;
  });
});
