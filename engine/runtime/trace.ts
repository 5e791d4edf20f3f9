// RRLHF_TRACE=1: one stderr line before each compile, run and device download, so that a crash inside
// an execution provider (which ends the process without a JavaScript error) can be traced to the
// graph, shapes or tensor it was handling. Off by default; costs nothing then.
export const tracing = process.env.RRLHF_TRACE === '1';
export function trace(line: string): void {
  if (tracing) process.stderr.write(`[trace] ${line}\n`);
}
