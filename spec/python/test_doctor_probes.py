"""
doctor's probe programs (lib/doctor/probes/*.py) run here with the host's python3 and small sizes:
each module on its own (its result as one JSON line), and the driver as the sandbox runs it
(run_probes.py as the program, the modules beside it in the work dir, the steps in argv), whose
lines lib/doctor/probe-verdicts.ts reads. What they find inside a real container is the
integration spec's (spec/integration/doctor.spec.ts). Run by `npm run test:python`.
"""
import importlib.util
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest

PROBES = pathlib.Path(__file__).resolve().parents[2] / 'lib/doctor/probes'
MIB = 1024 * 1024


def probe(name, *argv, cwd=None, preexec_fn=None):
    done = subprocess.run([sys.executable, str(PROBES / (name + '.py')), *map(str, argv)], cwd=cwd, capture_output=True, text=True, timeout=30, preexec_fn=preexec_fn)
    if done.returncode != 0:
        raise AssertionError('%s exited %d: %s' % (name, done.returncode, done.stderr))
    lines = done.stdout.strip().split('\n')
    return json.loads(lines[-1])


class Probes(unittest.TestCase):
    def test_memory_hog_reports_what_it_touched_when_nothing_stops_it(self):
        self.assertEqual(probe('memory_hog', 3), {'allocatedMib': 3})

    def test_fork_count_stops_at_its_cap_and_reaps_its_children(self):
        self.assertEqual(probe('fork_count', 3), {'forks': 3, 'refused': None})

    def test_cpu_burn_measures_wall_running_and_cpu_time(self):
        got = probe('cpu_burn', 0.05)
        self.assertGreaterEqual(got['wallSeconds'], 0.05)
        self.assertLessEqual(got['runningSeconds'], got['wallSeconds'])
        self.assertGreater(got['runningSeconds'], 0)
        self.assertLessEqual(got['cpuSeconds'], got['wallSeconds'] + 0.01)

    def test_cpu_burn_counts_a_stall_as_not_running(self):
        # What throttling looks like to the loop: its clock jumps between two readings.
        spec = importlib.util.spec_from_file_location('dps_cpu_burn', PROBES / 'cpu_burn.py')
        cpu_burn = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cpu_burn)
        readings = iter([10.0, 10.0001, 10.0002, 10.2002, 10.2003, 10.5003])

        class Clock:
            monotonic = staticmethod(lambda: next(readings))
            process_time = staticmethod(lambda: 0.0)

        cpu_burn.time = Clock
        got = cpu_burn.probe('0.5')
        self.assertAlmostEqual(got['wallSeconds'], 0.5003)
        self.assertAlmostEqual(got['runningSeconds'], 0.0003)  # the 0.2 s and 0.3 s jumps are stalls

    def test_fill_storage_writes_up_to_its_most_when_nothing_stops_it(self):
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as tmp:
            got = probe('fill_storage', 1, tmp, cwd=work)
            self.assertEqual(got, {'tmpBytes': MIB, 'tmpError': None, 'fileBytes': MIB, 'fileError': None})
            self.assertEqual(os.listdir(tmp), [], 'the tmpfs is emptied before the file-size part')
            self.assertEqual(os.listdir(work), [], 'and the big file removed after it')

    def test_fill_storage_reports_efbig_at_the_file_size_limit(self):
        def limit_file_size():
            resource.setrlimit(resource.RLIMIT_FSIZE, (MIB // 2, MIB // 2))
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as tmp:
            got = probe('fill_storage', 2, tmp, cwd=work, preexec_fn=limit_file_size)
            self.assertEqual((got['fileBytes'], got['fileError']), (MIB // 2, 'EFBIG'))

    def test_isolation_reports_identity_root_network_and_cgroup(self):
        got = probe('isolation')
        self.assertEqual((got['uid'], got['euid'], got['gid']), (os.getuid(), os.geteuid(), os.getgid()))
        self.assertIn('lo', got['interfaces'])
        self.assertIsInstance(got['rootReadOnly'], bool)
        self.assertIn(got['rootWrite'], ('written', 'EROFS', 'EACCES', 'EPERM'))
        self.assertEqual(set(got['cgroup']), {'version', 'memoryLimit', 'swapAllowed', 'peakMemory', 'cpuQuota', 'pidsLimit'})
        self.assertEqual(set(got), {'uid', 'euid', 'gid', 'capEff', 'noNewPrivs', 'rootReadOnly', 'rootWrite', 'interfaces', 'route', 'cgroup'})


class Driver(unittest.TestCase):
    def test_runs_each_step_in_order_one_line_each_and_reports_a_probe_that_raised(self):
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as tmp:
            for name in ('fork_count', 'cpu_burn', 'fill_storage'):
                shutil.copy(PROBES / (name + '.py'), work)
            script = PROBES / 'run_probes.py'
            # As the loader runs a program: the program's dir first on sys.path, then the work dir.
            code = 'import sys, runpy; sys.path[0:1] = [%r, %r]; runpy.run_path(%r, run_name="__main__")' % (str(PROBES.parent / 'nowhere'), work, str(script))
            done = subprocess.run([sys.executable, '-c', code, 'fork_count:2', 'cpu_burn:0.01', 'fill_storage:1:' + tmp, 'fill_storage:x:' + tmp, 'missing'],
                                  cwd=work, capture_output=True, text=True, timeout=30)
            lines = [json.loads(line) for line in done.stdout.strip().split('\n')]
            self.assertEqual([line['probe'] for line in lines], ['fork_count', 'cpu_burn', 'fill_storage', 'fill_storage', 'missing'])
            self.assertEqual(lines[0]['result'], {'forks': 2, 'refused': None})
            self.assertEqual(lines[2]['result']['tmpBytes'], MIB)
            self.assertRegex(lines[3]['error'], r'^ValueError: ')
            self.assertRegex(lines[4]['error'], r'^ModuleNotFoundError: ')


class RootMount(unittest.TestCase):
    def setUp(self):
        spec = importlib.util.spec_from_file_location('dps_isolation_probe', PROBES / 'isolation.py')
        self.isolation = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.isolation)

    def mountinfo(self, text):
        handle = tempfile.NamedTemporaryFile('w', suffix='.mountinfo', delete=False)
        self.addCleanup(os.unlink, handle.name)
        handle.write(text)
        handle.close()
        return handle.name

    def test_read_only_root_as_gvisor_lists_it(self):
        # gVisor's statvfs has no ST_RDONLY; its mountinfo says ro.
        path = self.mountinfo('8 8 0:8 / / ro  - 9p none ro,trans=fd\n9 8 0:6 / /dev rw  - tmpfs none rw,mode=0755\n17 8 0:16 / /tmp rw  - tmpfs none rw\n')
        self.assertTrue(self.isolation.root_mounted_read_only(path))

    def test_the_last_mount_on_root_counts(self):
        path = self.mountinfo('1 0 8:1 / / ro,relatime - ext4 /dev/sda1 ro\n50 1 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/l\n')
        self.assertFalse(self.isolation.root_mounted_read_only(path))
        self.assertFalse(self.isolation.root_mounted_read_only('/nonexistent/mountinfo'))


if __name__ == '__main__':
    unittest.main()
