/** What bench/run.ts and its target processes (bench/targets.ts) say to each other over IPC. */

export const TARGETS = ['hello', 'health', 'tenant-read', 'raw-read', 'naive-read'] as const;
export type TargetName = (typeof TARGETS)[number];

export type ParentMessage = { type: 'stats' } | { type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; port: number }
  /** cpuMicros: user + system CPU time the process has used so far. */
  | { type: 'stats'; queries: number; rssBytes: number; maxRssBytes: number; cpuMicros: number }
  | { type: 'error'; message: string };
