"""
cgroup v1 and v2 as the container's programs read them, on fixture trees shaped like a container's
/sys/fs/cgroup (spec/fixtures/cgroup/): the loader's OOM-kill count (lib/runner/loader.py, which
reports it in every exit marker) and doctor's view of the limits and peak memory
(lib/doctor/probes/isolation.py). The machine the specs run on has one cgroup version; these
cover both. Run by `npm run test:python`.
"""
import importlib.util
import pathlib
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / 'spec/fixtures/cgroup'


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its __name__ is not '__main__': nothing runs
    return module


loader = load('dps_loader', 'lib/runner/loader.py')
isolation = load('dps_isolation_probe', 'lib/doctor/probes/isolation.py')


def tree(name):
    return str(FIXTURES / name)


class OomKills(unittest.TestCase):
    def test_cgroup_v1_counts_from_the_memory_controllers_oom_control(self):
        self.assertEqual(loader._dps_oom_kills(tree('v1')), 2)

    def test_cgroup_v2_counts_from_memory_events_not_oom_or_oom_group_kill(self):
        self.assertEqual(loader._dps_oom_kills(tree('v2')), 1)
        self.assertEqual(loader._dps_oom_kills(tree('v2-before-5.19')), 0)

    def test_a_v1_kernel_without_the_counter_and_no_cgroup_view_at_all_report_minus_one(self):
        # memory.oom_control had no oom_kill line before Linux 4.13; gVisor shows no cgroup files.
        self.assertEqual(loader._dps_oom_kills(tree('v1-no-swap-accounting')), -1)
        with tempfile.TemporaryDirectory() as empty:
            self.assertEqual(loader._dps_oom_kills(empty), -1)

    def test_the_default_root_is_the_containers_cgroup_mount(self):
        self.assertEqual(loader._dps_oom_kills.__defaults__, ('/sys/fs/cgroup',))


class CgroupView(unittest.TestCase):
    def test_cgroup_v1(self):
        self.assertEqual(
            isolation.cgroup_view(tree('v1')),
            {'version': 1, 'memoryLimit': 32 << 20, 'swapAllowed': 0, 'peakMemory': 9875456, 'cpuQuota': 0.5, 'pidsLimit': 32},
        )

    def test_cgroup_v2(self):
        self.assertEqual(
            isolation.cgroup_view(tree('v2')),
            {'version': 2, 'memoryLimit': 32 << 20, 'swapAllowed': 0, 'peakMemory': 10452992, 'cpuQuota': 0.5, 'pidsLimit': 32},
        )

    def test_no_limits_read_as_max_and_peak_memory_is_unknown_before_linux_5_19(self):
        self.assertEqual(
            isolation.cgroup_view(tree('v2-before-5.19')),
            {'version': 2, 'memoryLimit': 'max', 'swapAllowed': 'max', 'peakMemory': None, 'cpuQuota': 'max', 'pidsLimit': 'max'},
        )

    def test_v1_without_swap_accounting_cannot_limit_swap(self):
        # No memory.memsw.* files: --memory-swap has nothing to act on. Its "unlimited" is a number.
        view = isolation.cgroup_view(tree('v1-no-swap-accounting'))
        self.assertEqual((view['version'], view['memoryLimit'], view['swapAllowed']), (1, 'max', 'max'))

    def test_no_cgroup_files_no_view(self):
        with tempfile.TemporaryDirectory() as empty:
            self.assertEqual(
                isolation.cgroup_view(empty),
                {'version': None, 'memoryLimit': None, 'swapAllowed': None, 'peakMemory': None, 'cpuQuota': None, 'pidsLimit': None},
            )


if __name__ == '__main__':
    unittest.main()
