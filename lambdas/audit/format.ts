/** How the audit (and the CLI, bin/cli/output.ts) writes times and durations in its sentences. */

/** `2025-03-01 14:05Z`: minutes are enough for rotation schedules; undefined prints as `-`. */
export function formatTime(date: Date | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '-';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** `850 ms`, `4.2 s`, `12m`, `3h 5m`, `2d 4h`. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(abs / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}
