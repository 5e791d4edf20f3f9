// The Python that has PyTorch (Debian's python3-torch), for the tests that cross-check the engine
// against the PyTorch references in test/reference/; null where none imports torch (those tests skip).
import { spawnSync } from 'node:child_process';

export function torchPython(): string | null {
  for (const py of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}
