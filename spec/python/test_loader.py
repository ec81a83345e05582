"""
Unit tests of the loader (lib/runner/loader.py), the Python program that runs in every pooled
container: the glob matcher, the collect walk and its caps, the report's wire format, the inputs
reader and exit statuses, the in-band payload, and (running the loader as a child process, with
temp dirs for /sandbox-in and the work dir) how a run ends when its owner goes or its deadline
passes. Run by `npm run test:python` (part of `npm test`) with the host's python3.

No test here asks the loader to collect files: collecting first kills every process of its user
(kill(-1)), which in a container is the program's leftovers, and here would be the test's user's.
"""
import importlib.util
import io
import json
import os
import pathlib
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from contextlib import redirect_stderr

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTOCOL = json.loads((ROOT / 'lib/runner/protocol.json').read_text())

spec = importlib.util.spec_from_file_location('dps_loader', ROOT / 'lib/runner/loader.py')
loader = importlib.util.module_from_spec(spec)
spec.loader.exec_module(loader)  # its __name__ is not '__main__': nothing starts


def matches(path, pattern):
    return loader._dps_pattern_matches(path.split('/'), pattern.split('/'))


class GlobMatcher(unittest.TestCase):
    def test_a_wildcard_stays_within_one_name(self):
        self.assertTrue(matches('plot.png', '*.png'))
        self.assertFalse(matches('out/plot.png', '*.png'))
        self.assertTrue(matches('out/plot.png', 'out/*.png'))
        self.assertTrue(matches('data1.csv', 'data?.csv'))
        self.assertTrue(matches('data1.csv', 'data[0-9].csv'))
        self.assertFalse(matches('dataX.csv', 'data[0-9].csv'))

    def test_double_star_spans_any_number_of_directories(self):
        self.assertTrue(matches('out', 'out/**'))
        self.assertTrue(matches('out/a/b/c.txt', 'out/**'))
        self.assertTrue(matches('a/b/c.png', '**/*.png'))
        self.assertTrue(matches('c.png', '**/*.png'))
        self.assertFalse(matches('other/c.png', 'out/**'))

    def test_hidden_names_match_only_when_named(self):
        self.assertFalse(matches('.secret', '*'))
        self.assertFalse(matches('.cache/x', '**/x'))
        self.assertTrue(matches('.cache/x', '.cache/**'))
        self.assertTrue(matches('.secret', '.secret'))


class CollectPlan(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.root = pathlib.Path(self.dir.name)

    def write(self, path, size):
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b'x' * size)

    def plan(self, patterns, max_bytes=1 << 20, max_files=1000):
        request = {'patterns': patterns, 'maxBytes': max_bytes, 'maxFiles': max_files, 'maxHeaderBytes': 1 << 16}
        return loader._dps_collect_plan(request, str(self.root))

    def test_files_come_in_path_order_while_they_fit_the_byte_cap(self):
        self.write('a.png', 10)
        self.write('b.png', 20)
        self.write('c.png', 5)
        self.write('notes.txt', 1)
        files, skipped = self.plan(['*.png'], max_bytes=25)
        self.assertEqual(files, [['a.png', 10], ['c.png', 5]])
        self.assertEqual(len(skipped), 1)
        self.assertEqual(skipped[0][0], 'b.png')
        self.assertIn('would exceed maxCollectBytes (25 bytes; 10 already collected)', skipped[0][1])

    def test_a_directory_brings_its_whole_tree(self):
        self.write('out/a.txt', 1)
        self.write('out/deep/b.txt', 2)
        self.write('elsewhere.txt', 3)
        files, skipped = self.plan(['out'])
        self.assertEqual(files, [['out/a.txt', 1], ['out/deep/b.txt', 2]])
        self.assertEqual(skipped, [])

    def test_symbolic_links_are_listed_never_followed(self):
        self.write('real.txt', 4)
        os.symlink('/etc/passwd', self.root / 'passwd.txt')
        os.symlink('/etc', self.root / 'etc')
        files, skipped = self.plan(['*.txt', 'etc', 'etc/**'])
        self.assertEqual(files, [['real.txt', 4]])
        self.assertEqual(sorted(skipped), [['etc', 'is a symbolic link (not followed)'], ['passwd.txt', 'is a symbolic link (not followed)']])

    def test_other_kinds_of_file_are_skipped_with_the_reason(self):
        os.mkfifo(self.root / 'pipe')
        files, skipped = self.plan(['pipe'])
        self.assertEqual(files, [])
        self.assertEqual(skipped, [['pipe', 'is not a regular file']])

    def test_the_file_count_cap(self):
        for name in 'abcde':
            self.write(name + '.log', 1)
        files, skipped = self.plan(['*.log'], max_files=3)
        self.assertEqual([path for path, _ in files], ['a.log', 'b.log', 'c.log'])
        self.assertEqual([path for path, _ in skipped], ['d.log', 'e.log'])
        self.assertIn('more than 3 files were collected', skipped[0][1])

    def test_the_header_falls_back_when_it_would_exceed_the_hosts_limit(self):
        for index in range(50):
            self.write('file-with-a-rather-long-name-%02d.bin' % index, 10)
        request = {'patterns': ['*.bin'], 'maxBytes': 100, 'maxFiles': 1000, 'maxHeaderBytes': 700}
        files, header = loader._dps_collect_section(request, str(self.root))
        self.assertLessEqual(len(header), 700)
        section = json.loads(header)
        self.assertEqual(section['skipped'], [['*', 'too many files were skipped to list them']])
        self.assertEqual(len(files), 10)
        request['maxHeaderBytes'] = 50
        files, header = loader._dps_collect_section(request, str(self.root))
        self.assertEqual(files, [])
        self.assertEqual(json.loads(header)['skipped'], [['*.bin', 'could not be collected: the file names are too long to list']])


class Report(unittest.TestCase):
    def test_the_marker_lines_carry_the_verdict_and_only_stdouts_announces_the_files(self):
        to_stderr, to_stdout = loader._dps_marker_lines(PROTOCOL['markerPrefix'], 'n0nce', 137, 9, 1, 250, 51200, 4096)
        prefix = (PROTOCOL['markerPrefix'] + 'n0nce').encode()
        self.assertEqual(to_stderr, prefix + b':137:9:1:250:51200:0\n')
        self.assertEqual(to_stdout, prefix + b':137:9:1:250:51200:4096\n')

    def test_no_cgroup_view_is_reported_as_minus_one(self):
        _, to_stdout = loader._dps_marker_lines(PROTOCOL['markerPrefix'], 'x', 0, 0, -1, 0, 0, 0)
        self.assertTrue(to_stdout.endswith(b':0:0:-1:0:0:0\n'))


class Inputs(unittest.TestCase):
    def test_no_inputs_file_means_no_inputs(self):
        self.assertEqual(loader._dps_read_inputs('-'), {})

    def test_the_inputs_file_is_json(self):
        inputs = {'argv': ['a', 'b c'], 'env': {'MODE': 'test'}, 'stdin': None, 'files': None, 'collect': None}
        with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
            json.dump(inputs, handle)
        self.addCleanup(os.unlink, handle.name)
        self.assertEqual(loader._dps_read_inputs(handle.name), inputs)


class ExitStatus(unittest.TestCase):
    def test_system_exit_as_cpython_handles_it(self):
        self.assertEqual(loader._dps_exit_status(SystemExit()), 0)
        self.assertEqual(loader._dps_exit_status(SystemExit(3)), 3)
        self.assertEqual(loader._dps_exit_status(SystemExit(256 + 7)), 7)
        printed = io.StringIO()
        with redirect_stderr(printed):
            self.assertEqual(loader._dps_exit_status(SystemExit('bad input')), 1)
        self.assertEqual(printed.getvalue(), 'bad input\n')


class Protocol(unittest.TestCase):
    def test_the_loader_holds_no_literal_of_the_wire_format(self):
        source = (ROOT / 'lib/runner/loader.py').read_text()
        for name in ('readyLine', 'goAck', 'markerPrefix', 'warmupHook', 'inputsUnseen'):
            literal = PROTOCOL[name].strip()
            self.assertNotIn(literal, source, '%s must come from protocol.json' % name)


def pack(root, entries):
    # The host's payload (lib/runner/run-inputs.ts packRunEntries): a JSON header line, then the bytes.
    header = (json.dumps({'root': root, 'entries': [[path, len(content)] for path, content in entries]}) + '\n').encode()
    return header + b''.join(content for _, content in entries)


class Pipe:
    # A pipe standing in for the container's stdin: the loader reads its read end.
    def __init__(self, test):
        self.read_fd, self.write_fd = os.pipe()
        test.addCleanup(self.close)

    def send(self, data):
        os.write(self.write_fd, data)

    def close_writer(self):
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    def close(self):
        self.close_writer()
        os.close(self.read_fd)


class InBandPayload(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.root = os.path.join(self.dir.name, 'in')
        os.mkdir(self.root)
        self.pipe = Pipe(self)
        self.source = loader._DpsInput(self.pipe.read_fd)
        self.soon = loader._DpsDeadline(5)
        self.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)  # the deadline's alarm must not fire in the test process

    def test_the_entries_become_the_files_the_mount_path_has(self):
        entries = [('main.py', b'print(1)\n'), ('stdin', b'x' * 3_000_000), ('files/a/b.txt', b'deep'), ('inputs.json', b'{}')]
        payload = pack(self.root, entries)
        # Sent after the go line, as the host does: one read may take both.
        self.pipe.send(b'nonce /in/main.py /in/inputs.json %d 1000 2000\n' % len(payload))
        writer = os.fork()
        if writer == 0:
            os.write(self.pipe.write_fd, payload)  # more than a pipe holds: written while the loader reads
            os._exit(0)
        self.addCleanup(os.waitpid, writer, 0)
        go = loader._dps_parse_go(self.source.readline(self.soon))
        self.assertEqual(go, ('nonce', '/in/main.py', '/in/inputs.json', len(payload), 1.0, 2.0))
        self.assertIsNone(loader._dps_unpack(self.source, go[3], self.soon))
        for path, content in entries:
            target = os.path.join(self.root, path)
            self.assertEqual(pathlib.Path(target).read_bytes(), content, path)
            self.assertEqual(os.stat(target).st_mode & 0o777, 0o644 & ~current_umask())
        self.assertEqual(os.stat(os.path.join(self.root, 'files/a')).st_mode & 0o777, 0o755 & ~current_umask())

    def test_a_bad_entry_is_reported_and_the_stream_stays_in_step(self):
        payload = pack(self.root, [('../escape', b'no'), ('main.py', b'x')])
        self.pipe.send(payload + b'after')
        problem = loader._dps_unpack(self.source, len(payload), self.soon)
        self.assertIn("bad path in the payload: '../escape'", problem)
        self.assertFalse(os.path.exists(os.path.join(self.dir.name, 'escape')))
        rest = []
        self.source.copy(5, rest.append, self.soon)
        self.assertEqual(b''.join(rest), b'after', 'what follows the payload is read as such')

    def test_a_header_that_does_not_add_up_is_refused(self):
        payload = pack(self.root, [('main.py', b'x')])
        self.pipe.send(payload)
        with self.assertRaises(ValueError):
            loader._dps_unpack(self.source, len(payload) + 1, self.soon)

    def test_the_owner_going_mid_payload_or_the_deadline_ends_the_read(self):
        payload = pack(self.root, [('main.py', b'x' * 100)])
        self.pipe.send(payload[:-10])
        with self.assertRaises(loader._DpsGone) as late:
            loader._dps_unpack(self.source, len(payload), loader._DpsDeadline(0.2))
        self.assertEqual(str(late.exception), 'deadline')
        self.pipe.close_writer()
        with self.assertRaises(loader._DpsGone) as gone:
            self.source.copy(10, lambda piece: None, self.soon)
        self.assertEqual(str(gone.exception), 'eof')


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class LoaderProcess:
    # The loader as the container's main process: protocol and settings as argv, stdin a pipe.
    def __init__(self, test, probe=None, idle_seconds=None):
        self.dir = tempfile.TemporaryDirectory()
        test.addCleanup(self.dir.cleanup)
        self.input_dir = os.path.join(self.dir.name, 'sandbox-in')
        self.work_dir = os.path.join(self.dir.name, 'sandbox')
        os.mkdir(self.input_dir)
        os.mkdir(self.work_dir)
        settings = {'preload': [], 'probe': probe, 'idleSeconds': idle_seconds}
        source = (ROOT / 'lib/runner/loader.py').read_text()
        self.process = subprocess.Popen(
            [sys.executable, '-c', source, json.dumps(PROTOCOL), json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.work_dir,
        )
        test.addCleanup(self.stop)
        self.stdout = b''

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def read_until(self, text, within=10, after=0):
        # Reads stdout until text appears in it (at or past index `after`).
        deadline = time.monotonic() + within
        while text not in self.stdout[after:]:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                raise AssertionError('no %r on stdout within %ss; got %r' % (text, within, self.stdout))
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError('stdout ended before %r; got %r, stderr %r' % (text, self.stdout, self.process.stderr.read()))
            self.stdout += chunk

    def go(self, code, run_ms=60_000, report_ms=60_000, stdin=None, files=None):
        # The stdin path: code (stdin, files) in the payload, written into this loader's input dir.
        entries = [('main.py', code.encode())]
        inputs = '-'
        if stdin is not None or files:
            files = files or {}
            entries += [('stdin', stdin)] if stdin is not None else []
            entries += [('files/' + path, content) for path, content in files.items()]
            given = {
                'argv': [],
                'env': {},
                'stdin': os.path.join(self.input_dir, 'stdin') if stdin is not None else None,
                'files': os.path.join(self.input_dir, 'files') if files else None,
                'collect': None,
            }
            entries.append(('inputs.json', json.dumps(given).encode()))
            inputs = os.path.join(self.input_dir, 'inputs.json')
        payload = pack(self.input_dir, entries)
        line = 'n0nce %s %s %d %d %d\n' % (os.path.join(self.input_dir, 'main.py'), inputs, len(payload), run_ms, report_ms)
        self.process.stdin.write(line.encode() + payload)
        self.process.stdin.flush()

    def ended_within(self, seconds):
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def dies_within(pid, seconds):
    # SIGKILL is sent before the loader exits, but the program's death completes on its own time.
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# Prints its pid, then spins: a program that never ends by itself.
SPIN = 'import os\nprint("pid", os.getpid(), flush=True)\nwhile True:\n    pass\n'


class Watcher(unittest.TestCase):
    def test_a_watcher_that_cannot_start_is_not_the_runs_failure(self):
        # A fork bomb can take every pid before the loader starts its watcher thread.
        def no_threads(function, args):
            raise RuntimeError("can't start new thread")
        original = loader._thread.start_new_thread
        loader._thread.start_new_thread = no_threads
        try:
            self.assertFalse(loader._dps_start_watcher(0, None, None))
        finally:
            loader._thread.start_new_thread = original


class RunEnds(unittest.TestCase):
    def start(self, code, **go):
        loader_process = LoaderProcess(self)
        loader_process.read_until(PROTOCOL['readyLine'].encode())
        loader_process.go(code, **go)
        loader_process.read_until(PROTOCOL['goAck'].encode())
        return loader_process

    def program_pid(self, loader_process):
        # The program's first line: "pid N".
        loader_process.read_until(b'pid ')
        start = loader_process.stdout.index(b'pid ')
        loader_process.read_until(b'\n', after=start)
        return int(loader_process.stdout[start:].split(b'\n', 1)[0].split()[1])

    def test_a_run_on_the_stdin_path_reports_as_on_the_mount_path(self):
        code = 'import os, sys\nprint(len(sys.stdin.read()), __file__, open("d/e.txt").read(), os.path.exists(os.path.dirname(__file__) + "/files"))\n'
        loader_process = self.start(code, stdin=b'y' * 200_000, files={'d/e.txt': b'deep'})
        marker = (PROTOCOL['markerPrefix'] + 'n0nce').encode()
        loader_process.read_until(marker)
        loader_process.read_until(b'\n', after=loader_process.stdout.index(marker))
        self.assertEqual(loader_process.ended_within(10), 0)
        out = loader_process.stdout.split(PROTOCOL['goAck'].encode(), 1)[1]
        # The files were copied into the work dir, and left the input dir (memory) before the program began.
        self.assertTrue(out.startswith(b'200000 %s deep False\n' % os.path.join(loader_process.input_dir, 'main.py').encode()), out)

    def reports(self, code):
        # Runs code to its end; returns each exit marker's trailer on stdout, in order.
        loader_process = self.start(code)
        self.assertIsNotNone(loader_process.ended_within(10), 'the loader ends after the run')
        loader_process.stdout += loader_process.process.stdout.read()
        marker = (PROTOCOL['markerPrefix'] + 'n0nce').encode()
        return [piece.split(b'\n', 1)[0].decode() for piece in loader_process.stdout.split(marker)[1:]]

    def test_a_program_that_ends_normally_is_reported_by_its_own_process_first(self):
        # Its report comes before its process's teardown; the loader's, after the wait, agrees.
        first, second = self.reports('import sys\nprint("hi")\nsys.exit(4)\n')
        self.assertEqual(first.split(':')[1:3], ['4', '0'])
        self.assertEqual(second.split(':')[1:3], ['4', '0'])

    def test_a_killed_program_or_one_that_skips_its_end_is_reported_by_the_loader_alone(self):
        killed = self.reports('import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n')
        self.assertEqual([trailer.split(':')[1:3] for trailer in killed], [['137', '9']])
        skipped = self.reports('import os\nos._exit(3)\n')
        self.assertEqual([trailer.split(':')[1:3] for trailer in skipped], [['3', '0']])

    def test_the_program_forked_ahead_has_only_the_standard_streams_open(self):
        # Like python3 file.py: the pipe that handed it the run is closed, the first open() is fd 3.
        loader_process = self.start('import os\nprint(sorted(os.listdir("/proc/self/fd")), os.open("/dev/null", os.O_RDONLY), flush=True)\n')
        self.assertEqual(loader_process.ended_within(10), 0)
        loader_process.stdout += loader_process.process.stdout.read()
        out = loader_process.stdout.split(PROTOCOL['goAck'].encode(), 1)[1]
        self.assertTrue(out.startswith(b"['0', '1', '2', '3'] 3\n"), out)  # fd 3: listdir's own

    def test_the_program_forked_ahead_does_not_inherit_the_loaders_deadline_alarm(self):
        loader_process = self.start('import signal\nprint("timer", signal.getitimer(signal.ITIMER_REAL), flush=True)\n')
        self.assertEqual(loader_process.ended_within(10), 0)
        loader_process.stdout += loader_process.process.stdout.read()
        self.assertIn(b'timer (0.0, 0.0)\n', loader_process.stdout)

    def test_stdin_closing_mid_run_ends_the_program_and_the_loader(self):
        loader_process = self.start(SPIN)
        pid = self.program_pid(loader_process)
        self.assertTrue(pid_alive(pid))
        loader_process.process.stdin.close()  # the owner's docker CLI is gone
        self.assertEqual(loader_process.ended_within(5), 137)
        self.assertTrue(dies_within(pid, 5), 'the program is gone with its loader')

    def test_the_deadline_ends_a_program_whose_owner_never_says_anything_again(self):
        started = time.monotonic()
        loader_process = self.start(SPIN, run_ms=500)
        pid = self.program_pid(loader_process)
        self.assertEqual(loader_process.ended_within(10), 137)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        self.assertTrue(dies_within(pid, 5))
        self.assertIn(b'ran past its deadline', loader_process.process.stderr.read())

    def test_a_program_that_holds_its_gil_in_c_code_still_ends_at_the_deadline(self):
        # Catastrophic backtracking: C code that never lets go of the program's GIL. The
        # program's process is not the loader's: the loader's watcher ends it on time.
        code = 'import re\nprint("pid", __import__("os").getpid(), flush=True)\nre.match(r"(a+)+$", "a" * 40 + "b")\n'
        started = time.monotonic()
        loader_process = self.start(code, run_ms=300)
        pid = self.program_pid(loader_process)
        self.assertEqual(loader_process.ended_within(10), 137)
        self.assertLess(time.monotonic() - started, 5)
        self.assertTrue(dies_within(pid, 5))

    def test_an_idle_loader_ends_by_itself_after_its_idle_limit_and_not_before(self):
        started = time.monotonic()
        idle = LoaderProcess(self, idle_seconds=0.5)
        idle.read_until(PROTOCOL['readyLine'].encode())
        self.assertEqual(idle.ended_within(10), 0)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)
        # A go line within the limit is a run like any other, however long it lasts.
        busy = LoaderProcess(self, idle_seconds=0.5)
        busy.read_until(PROTOCOL['readyLine'].encode())
        busy.go('import time\ntime.sleep(1)\nprint("done")\n')
        busy.read_until(b'done\n')
        self.assertEqual(busy.ended_within(10), 0)

    def test_a_probe_the_container_cannot_see_stops_the_loader_before_it_is_ready(self):
        missing = LoaderProcess(self, probe={'path': '/nonexistent/dps-probe', 'nonce': 'abc'})
        self.assertEqual(missing.ended_within(10), 3)
        self.assertEqual(missing.process.stdout.read(), b'')
        stderr = missing.process.stderr.read().decode()
        self.assertTrue(stderr.startswith(PROTOCOL['inputsUnseen'] + ' /nonexistent/dps-probe: '), stderr)
        with tempfile.NamedTemporaryFile('w', delete=False) as handle:
            handle.write('abc')
        self.addCleanup(os.unlink, handle.name)
        seen = LoaderProcess(self, probe={'path': handle.name, 'nonce': 'abc'})
        seen.read_until(PROTOCOL['readyLine'].encode())


if __name__ == '__main__':
    unittest.main()
