/**
 * The gdb stub's TCP connection, as the synchronous machine needs it.
 *
 * kmemsim's machine runs synchronously on the main thread (a module run, a
 * program, a boot are one call), and a stopped guest is a guest whose
 * thread waits inside the run loop while the debugger talks to it. So the
 * socket lives in a worker thread, whose event loop accepts the client
 * (127.0.0.1 only, one client at a time, as QEMU's gdbstub) and copies
 * every byte it receives into a ring in shared memory; the main thread
 * reads the ring with Atomics.wait (blocking: the guest stays stopped) or
 * polls it (a running guest looks for gdb's Ctrl-C, the byte 0x03,
 * between instructions). Replies go to the worker with postMessage, which
 * the worker's own event loop writes to the socket.
 *
 * The worker's source is inline (a few lines of plain JavaScript), so the
 * stub works the same from dist/, the bundle and the TypeScript sources.
 */
import { Worker } from 'node:worker_threads';

/** Bytes the ring holds (gdb waits for a reply to each packet, so it never has much in flight). */
const RING = 1 << 20;
/** Control words: [event counter, bytes written, state, port or errno]. */
const EVENT = 0, WRITTEN = 1, STATE = 2, INFO = 3;
/** STATE values. */
const STARTING = 0, LISTENING = 1, CONNECTED = 2, DISCONNECTED = 3, FAILED = 4, CLOSED = 5;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const ctl = new Int32Array(workerData.control);
const ring = new Uint8Array(workerData.ring);
const RING = ring.length;
const event = () => { Atomics.add(ctl, ${EVENT}, 1); Atomics.notify(ctl, ${EVENT}); };
let client = null;
const server = net.createServer((sock) => {
  if (client !== null) { sock.destroy(); return; }
  client = sock;
  sock.setNoDelay(true);
  Atomics.store(ctl, ${STATE}, ${CONNECTED});
  event();
  sock.on('data', (d) => {
    let w = Atomics.load(ctl, ${WRITTEN});
    for (let i = 0; i < d.length; i++) ring[(w + i) % RING] = d[i];
    Atomics.store(ctl, ${WRITTEN}, (w + d.length) | 0);
    event();
  });
  const gone = () => {
    if (client !== sock) return;
    client = null;
    Atomics.store(ctl, ${STATE}, ${DISCONNECTED});
    event();
  };
  sock.on('close', gone);
  sock.on('error', gone);
});
server.on('error', (e) => {
  Atomics.store(ctl, ${INFO}, e.code === 'EADDRINUSE' ? 98 : e.code === 'EACCES' ? 13 : 1);
  Atomics.store(ctl, ${STATE}, ${FAILED});
  event();
});
server.listen(workerData.port, workerData.host, () => {
  Atomics.store(ctl, ${INFO}, server.address().port);
  Atomics.store(ctl, ${STATE}, ${LISTENING});
  event();
});
parentPort.on('message', (m) => {
  if (m.data && client !== null) client.write(Buffer.from(m.data));
  if (m.close) {
    const done = () => { Atomics.store(ctl, ${STATE}, ${CLOSED}); event(); process.exit(0); };
    server.close();
    if (client !== null) client.end(done); else done();
  }
});
`;

/** Why the stub could not listen. */
export class GdbListenError extends Error {}

export class GdbConnection {
  private readonly ctl: Int32Array;
  private readonly ring: Uint8Array;
  private readonly worker: Worker;
  private read = 0;
  private closed = false;
  /** The TCP port it listens on (the one asked for, or the system's choice for 0). */
  readonly port: number;

  private constructor(port: number, host: string) {
    const control = new SharedArrayBuffer(16);
    const ring = new SharedArrayBuffer(RING);
    this.ctl = new Int32Array(control);
    this.ring = new Uint8Array(ring);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { control, ring, port, host } });
    this.worker.unref();
    for (;;) {
      const seen = Atomics.load(this.ctl, EVENT);
      const state = Atomics.load(this.ctl, STATE);
      if (state === LISTENING) break;
      if (state === FAILED) {
        const why = Atomics.load(this.ctl, INFO);
        void this.worker.terminate();
        throw new GdbListenError(`cannot listen on ${host}:${port}: ${why === 98 ? 'address already in use' : why === 13 ? 'permission denied' : 'error'}`);
      }
      Atomics.wait(this.ctl, EVENT, seen, 10_000);
      if (Atomics.load(this.ctl, STATE) === STARTING && Atomics.load(this.ctl, EVENT) === seen) {
        void this.worker.terminate();
        throw new GdbListenError(`cannot listen on ${host}:${port}: the socket thread did not start`);
      }
    }
    this.port = Atomics.load(this.ctl, INFO);
  }

  /** Listen on `host:port` (127.0.0.1 unless a test says otherwise); throws GdbListenError. */
  static listen(port: number, host = '127.0.0.1'): GdbConnection {
    return new GdbConnection(port, host);
  }

  get connected(): boolean {
    return Atomics.load(this.ctl, STATE) === CONNECTED || this.available() > 0;
  }

  /** Block until a client connects. */
  waitForClient(): void {
    for (;;) {
      const seen = Atomics.load(this.ctl, EVENT);
      const s = Atomics.load(this.ctl, STATE);
      if (s === CONNECTED) return;
      if (s === DISCONNECTED) Atomics.store(this.ctl, STATE, LISTENING); // a client came and went: wait for the next
      Atomics.wait(this.ctl, EVENT, seen);
    }
  }

  /** Bytes received and not yet read. */
  available(): number {
    return (Atomics.load(this.ctl, WRITTEN) - this.read) | 0;
  }

  /** The next byte, waiting for it; null when the client disconnected (and everything it sent was read). */
  readByte(): number | null {
    for (;;) {
      const seen = Atomics.load(this.ctl, EVENT);
      if (this.available() > 0) {
        const b = this.ring[this.read % RING]!;
        this.read = (this.read + 1) | 0;
        return b;
      }
      if (Atomics.load(this.ctl, STATE) !== CONNECTED) return null;
      Atomics.wait(this.ctl, EVENT, seen);
    }
  }

  /** The next byte if one is there, else -1 (never waits). */
  pollByte(): number {
    if (this.available() <= 0) return -1;
    const b = this.ring[this.read % RING]!;
    this.read = (this.read + 1) | 0;
    return b;
  }

  write(data: string | Uint8Array): void {
    if (this.closed) return;
    this.worker.postMessage({ data: typeof data === 'string' ? Buffer.from(data, 'latin1') : data });
  }

  /** Send what is pending, close the socket and end the thread (waits up to a second for it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const seen = Atomics.load(this.ctl, EVENT);
    this.worker.postMessage({ close: true });
    const until = Date.now() + 1000;
    for (let e = seen; Atomics.load(this.ctl, STATE) !== CLOSED && Date.now() < until; e = Atomics.load(this.ctl, EVENT)) {
      Atomics.wait(this.ctl, EVENT, e, 100);
    }
  }
}
