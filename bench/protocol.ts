/** What bench/run.ts and its target processes (bench/targets.ts) say to each other over IPC. */

export const TARGETS = [
  'hello',
  'health',
  'tenant-read',
  'raw-read',
  'naive-read',
  'argon2',
  'login',
  'users-me',
  'users-list-1t',
  'users-list-10kt',
  'stores-raw',
  'stores-create',
] as const;

/** The password of the benchmark's sign-in accounts (and the one the argon2 ceiling verifies). */
export const BENCH_PASSWORD = 'Bench-password-for-atrium-41';
export type TargetName = (typeof TARGETS)[number];

export type ParentMessage = { type: 'stats' } | { type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; port: number }
  /** cpuMicros: user + system CPU time the process has used so far. */
  | { type: 'stats'; queries: number; rssBytes: number; maxRssBytes: number; cpuMicros: number }
  | { type: 'error'; message: string };
