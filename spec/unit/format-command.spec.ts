import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCommand } from '../../lib/docker/format-command.js';

test('a command is shown shell-quoted on one line: control characters escaped, long arguments shortened', () => {
  assert.equal(formatCommand('docker', ['ps', '--filter', 'label=a=b']), 'docker ps --filter label=a=b');
  assert.equal(formatCommand('docker', ['run', "it's", '']), "docker run 'it'\\''s' ''");
  assert.equal(formatCommand('docker', ['a\nb\tc', '\x1edps-go']), "docker 'a\\nb\\tc' '\\x1edps-go'");
  const long = formatCommand('python3', ['-c', 'x'.repeat(200)]);
  assert.equal(long, `python3 -c ${'x'.repeat(80)}…`.replace(/^(python3 -c )(.*)$/, "$1'$2'"));
  assert.ok(!formatCommand('docker', ['line one\nline two']).includes('\n'));
});
