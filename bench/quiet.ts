/**
 * Waits for a quiet machine before a measurement: until the 1-minute load average is below 0.6, checking once a
 * minute for at most 30 minutes. Returns the load it saw last, to be printed beside the figures.
 */
import * as os from "node:os";

/** The 1-minute load once it is below `limit` (or after `tries` minutes). */
export async function waitQuiet(limit = 0.6, tries = 30): Promise<number> {
  for (let i = 0; i < tries && os.loadavg()[0] >= limit; i++) await new Promise((r) => setTimeout(r, 60_000));
  return os.loadavg()[0];
}
