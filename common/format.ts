// Formatting shared by the CLI and the screens (pure code: the renderer imports it too).

/** A byte count in binary units: 512 B, 3.2 KiB, 41.0 MiB, 5.61 GiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
