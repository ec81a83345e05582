/**
 * The progress display of `image load`, with a fake clock: how often it writes, on a terminal and
 * in a log, and what the lines say.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, progressText, TransferProgress } from '../../lib/transfer-progress.js';

function sink(isTTY: boolean): { written: string[]; isTTY: boolean; write(text: string): void } {
  const written: string[] = [];
  return { written, isTTY, write: (text: string) => void written.push(text) };
}

test('sizes are decimal, with one decimal; the share is capped at 99% while the total is an estimate', () => {
  assert.equal(formatBytes(999), '1.0 kB');
  assert.equal(formatBytes(160_312_345), '160.3 MB');
  assert.equal(formatBytes(2_500_000_000), '2.50 GB');
  assert.equal(progressText(48_000_000, 160_000_000), '48.0 MB of ~160.0 MB (30%)');
  assert.equal(progressText(170_000_000, 160_000_000), '170.0 MB of ~160.0 MB (99%)');
  assert.equal(progressText(5_000_000, 0), '5.0 MB sent');
});

test('on a terminal: one line rewritten in place, at most once per 250 ms, cleared at the end', () => {
  let now = 0;
  const terminal = sink(true);
  const progress = new TransferProgress(terminal, 100_000_000, { now: () => now });
  for (let bytes = 1_000_000; bytes <= 100_000_000; bytes += 1_000_000) {
    progress.update(bytes);
    now += 20; // a chunk every 20 ms: 2 s in all
  }
  // 2 s at one update per 250 ms at most: the first chunk, then one every 13 chunks (260 ms).
  assert.equal(terminal.written.length, 8, terminal.written.join(''));
  assert.equal(terminal.written[0], '\r1.0 MB of ~100.0 MB (1%)\u001b[K');
  assert.ok(terminal.written.every((text) => text.startsWith('\r') && !text.includes('\n')));
  assert.equal(progress.finish(100_000_000), '100.0 MB in 2.0 s');
  assert.equal(terminal.written.at(-1), '\r\u001b[K');
});

test('in a log: plain lines, one per tenth of the total (however many chunks), never two within 250 ms', () => {
  let now = 0;
  const log = sink(false);
  const progress = new TransferProgress(log, 100_000_000, { now: () => now });
  for (let bytes = 100_000; bytes <= 100_000_000; bytes += 100_000) {
    progress.update(bytes);
    now += 10; // 10 s in all
  }
  assert.deepEqual(
    log.written,
    [1, 2, 3, 4, 5, 6, 7, 8, 9].map((tenth) => `${tenth}0.0 MB of ~100.0 MB (${tenth}0%)\n`).concat('100.0 MB of ~100.0 MB (99%)\n'),
  );
  assert.equal(progress.finish(100_000_000), '100.0 MB in 10.0 s');
  assert.equal(log.written.length, 10, 'nothing to clear in a log');

  // A fast transfer: the tenths come quicker than 250 ms apart, and some are skipped.
  now = 0;
  const fast = sink(false);
  const quick = new TransferProgress(fast, 100_000_000, { now: () => now });
  for (let bytes = 1_000_000; bytes <= 100_000_000; bytes += 1_000_000) {
    quick.update(bytes);
    now += 5; // 0.5 s in all
  }
  assert.ok(fast.written.length >= 2 && fast.written.length <= 3, fast.written.join(''));
});

test('abandon() ends the terminal line, keeping the last progress shown', () => {
  const terminal = sink(true);
  const progress = new TransferProgress(terminal, 10_000_000, { now: () => 0 });
  progress.update(5_000_000);
  progress.abandon();
  assert.deepEqual(terminal.written, ['\r5.0 MB of ~10.0 MB (50%)\u001b[K', '\n']);
});
