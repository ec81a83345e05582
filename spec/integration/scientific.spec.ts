/**
 * The scientific image (numpy, pandas, matplotlib from Debian packages): the plot example draws a
 * chart with no display and `collect` brings back a valid PNG, on the real engine.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { startSandbox } from '../helpers/engine.js';

const SCIENTIFIC = 'docker-python-sandbox:scientific';
const PLOT_EXAMPLE = fileURLToPath(new URL('../../examples/scientific/plot.py', import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Walks a PNG's chunks, checking each CRC; returns the image size from IHDR. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature');
  let at = 8;
  let size: { width: number; height: number } | undefined;
  let last = '';
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString('latin1');
    const body = png.subarray(at + 8, at + 8 + length);
    assert.equal(png.readUInt32BE(at + 8 + length), crc32(png.subarray(at + 4, at + 8 + length)), `CRC of chunk ${type}`);
    if (type === 'IHDR') size = { width: body.readUInt32BE(0), height: body.readUInt32BE(4) };
    last = type;
    at += 12 + length;
  }
  assert.equal(last, 'IEND', 'the PNG ends with IEND');
  assert.ok(size !== undefined, 'the PNG has an IHDR');
  return size;
}

test('the plot example draws a chart with no display; collect ["*.png"] returns a valid PNG', async (t) => {
  const sandbox = await startSandbox(t, { image: SCIENTIFIC, memoryLimitMb: 256 });
  const result = await sandbox.run({ code: await readFile(PLOT_EXAMPLE, 'utf8'), collect: ['*.png'], timeoutMs: 60_000 });
  assert.equal(result.status, 'ok', result.stderr);
  assert.equal(result.stderr, '', 'matplotlib says nothing on stderr (no cache or display warnings)');
  assert.match(result.stdout, /count\s+90\.0[\s\S]*wrote plot\.png\n$/);
  assert.deepEqual(Object.keys(result.files), ['plot.png']);
  assert.deepEqual(pngSize(result.files['plot.png']!), { width: 640, height: 480 });
});

test('the scientific image runs numpy and pandas, and preload makes them imported before the program starts', async (t) => {
  const sandbox = await startSandbox(t, { image: SCIENTIFIC, memoryLimitMb: 256, preload: ['numpy', 'pandas', 'matplotlib.pyplot'] });
  const result = await sandbox.run(
    [
      'import sys',
      "print(all(name in sys.modules for name in ('numpy', 'pandas', 'matplotlib.pyplot')))",
      'import numpy as np, pandas as pd, matplotlib',
      'print(matplotlib.get_backend().lower(), int(np.arange(10).sum()), pd.Series([1, 2, 3]).mean())',
    ].join('\n'),
  );
  assert.equal(result.status, 'ok', result.stderr);
  assert.equal(result.stdout, 'True\nagg 45 2.0\n');
  assert.equal(result.stderr, '');
});
