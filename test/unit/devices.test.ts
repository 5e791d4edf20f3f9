// The line a run records about its device: what auto chose and why faster devices were passed over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeResolution, initFailure, resolveDevice } from '../../engine/runtime/devices.js';

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

test('initialisation failures read as sentences: no C++ location or assertion in front, a hint for WebGPU, cut at a word', () => {
  assert.equal(initFailure('/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters'),
    'Failed to get a WebGPU adapter: No supported adapters. WebGPU needs a GPU driver it can use: Vulkan on Linux, Direct3D 12 on Windows, Metal on macOS');
  assert.equal(initFailure('/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1778 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file\nmore'),
    'Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file');
  assert.equal(initFailure('no such provider'), 'no such provider');
  const long = initFailure('word '.repeat(100));
  assert.ok(long.length <= 300 && long.endsWith('word…'), long);
});
