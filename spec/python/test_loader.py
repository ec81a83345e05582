"""
Unit tests of the loader (lib/runner/loader.py), the Python program that runs in every pooled
container: the glob matcher, the collect walk and its caps, the report's wire format, the inputs
reader and exit statuses. Run by `npm run test:python` (part of `npm test`) with the host's python3.
"""
import importlib.util
import io
import json
import os
import pathlib
import tempfile
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
        for name in ('readyLine', 'goAck', 'markerPrefix', 'warmupHook'):
            literal = PROTOCOL[name].strip()
            self.assertNotIn(literal, source, '%s must come from protocol.json' % name)


if __name__ == '__main__':
    unittest.main()
