// The line a run records about its device: what auto chose and why faster devices were passed over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeResolution, resolveDevice } from '../../engine/runtime/devices.js';

test('describeResolution names the device, its note, and what auto passed over with the reasons', () => {
  const line = describeResolution('auto', {
    device: 'cpu',
    tried: [
      { device: 'cuda', available: false, reason: 'no NVIDIA driver' },
      { device: 'webgpu', available: false, reason: 'no Vulkan adapter' },
      { device: 'cpu', available: true },
    ],
  });
  assert.equal(line, 'auto chose cpu; not used: cuda: no NVIDIA driver; webgpu: no Vulkan adapter');
  assert.equal(describeResolution('cuda', { device: 'cuda', tried: [{ device: 'cuda', available: true, note: 'state stays in GPU memory' }] }),
    'cuda (state stays in GPU memory)');
});

test('auto on this machine resolves to a working device and says why others were skipped', async () => {
  const r = await resolveDevice('auto');
  const line = describeResolution('auto', r);
  assert.match(line, new RegExp(`^auto chose ${r.device}`));
  for (const t of r.tried.filter((x) => !x.available)) assert.ok(line.includes(`${t.device}: `), `mentions ${t.device}`);
});
