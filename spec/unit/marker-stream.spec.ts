import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MarkerStream } from '../../lib/runner/marker-stream.js';

const TOKEN = '\x1edps-exit:abc123';

function feed(chunks: string[]): { readonly data: string; stream: MarkerStream } {
  let data = '';
  const stream = new MarkerStream(TOKEN, (chunk) => (data += chunk.toString()));
  for (const chunk of chunks) stream.push(Buffer.from(chunk));
  return {
    get data() {
      return data;
    },
    stream,
  };
}

test('output before the marker is passed on, the marker and its trailer are not', () => {
  const { data, stream } = feed([`hello\nno newline${TOKEN}:3\n`]);
  assert.equal(data, 'hello\nno newline');
  assert.equal(stream.trailer, ':3');
});

test('a marker split across chunks at every position is still found', () => {
  const whole = `out${TOKEN}:0\n`;
  for (let cut = 1; cut < whole.length; cut++) {
    const { data, stream } = feed([whole.slice(0, cut), whole.slice(cut)]);
    assert.equal(data, 'out', `cut at ${cut}`);
    assert.equal(stream.trailer, ':0', `cut at ${cut}`);
  }
});

test('a trailer is undefined until its newline arrives', () => {
  const { stream } = feed([`${TOKEN}:1`]);
  assert.equal(stream.markerSeen, true);
  assert.equal(stream.trailer, undefined);
  stream.push(Buffer.from('2\n'));
  assert.equal(stream.trailer, ':12');
});

test('a look-alike that is not the marker is output, including a prefix held at the end', () => {
  const fed = feed(['a\x1edps-exit:abc', '999 b\x1edps']);
  assert.equal(fed.stream.markerSeen, false);
  fed.stream.flush();
  assert.equal(fed.data, 'a\x1edps-exit:abc999 b\x1edps');
});

test('another nonce does not end the stream', () => {
  const fed = feed(['\x1edps-exit:zzz:0\nmore']);
  fed.stream.flush();
  assert.equal(fed.stream.markerSeen, false);
  assert.equal(fed.data, '\x1edps-exit:zzz:0\nmore');
});

test('bytes after the trailer line are kept apart as the tail, whatever the chunking', () => {
  const whole = `out${TOKEN}:0:5\n{"files":[]}\n\x00\x01binary`;
  for (let cut = 1; cut < whole.length; cut++) {
    const { data, stream } = feed([whole.slice(0, cut), whole.slice(cut)]);
    assert.equal(data, 'out', `cut at ${cut}`);
    assert.equal(stream.trailer, ':0:5', `cut at ${cut}`);
    assert.equal(stream.tail().toString(), '{"files":[]}\n\x00\x01binary', `cut at ${cut}`);
    assert.equal(stream.tailLength, stream.tail().length);
  }
});
