/**
 * Between tests, give the worker's event loop one macrotask turn. Many of
 * our tests run the simulator synchronously for seconds; vitest's worker
 * answers the main process's RPC only when its event loop turns, and a test
 * file whose tests run back to back without one can leave a call unanswered
 * past vitest's RPC timeout ("Timeout calling onTaskUpdate").
 */
import { afterEach, beforeEach } from 'vitest';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
beforeEach(turn);
afterEach(turn);
