"""
doctor's isolation probe: what a program sees of its container without doing anything drastic.
Its identity (uid, capabilities, no_new_privs), whether the root filesystem is read-only, which
network interfaces exist and whether any route leads out, and the container's cgroup as the
kernel enforces it (version, memory and swap limits, peak memory, CPU quota, pids limit).
lib/doctor/probe-verdicts.ts judges it. Unit tests: spec/python/test_cgroup.py, test_doctor_probes.py.
"""
import errno
import json
import os
import socket

CGROUP_ROOT = '/sys/fs/cgroup'
# cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit number.
V1_UNLIMITED = 1 << 62


def read_value(path):
    # A cgroup file's single value: an int, 'max' for no limit, None when the file is missing.
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    if text == 'max':
        return 'max'
    try:
        number = int(text.split()[0])
    except (ValueError, IndexError):
        return None
    return 'max' if number >= V1_UNLIMITED else number


def cgroup_version(root=CGROUP_ROOT):
    # v2 has cgroup.controllers at the root of the unified hierarchy; v1 a directory per controller.
    if os.path.exists(os.path.join(root, 'cgroup.controllers')):
        return 2
    if os.path.isdir(os.path.join(root, 'memory')):
        return 1
    return None


def memory_limit(root=CGROUP_ROOT, version=None):
    version = version or cgroup_version(root)
    if version == 2:
        return read_value(os.path.join(root, 'memory.max'))
    if version == 1:
        return read_value(os.path.join(root, 'memory', 'memory.limit_in_bytes'))
    return None


def swap_allowed(root=CGROUP_ROOT, version=None):
    # Swap the cgroup may use on top of its memory limit: 0 when --memory-swap equals --memory.
    # v2 limits swap alone (memory.swap.max); v1 limits memory and swap together (memsw), and has
    # no memsw file at all when the kernel accounts no swap (then swap is not limited: 'max').
    version = version or cgroup_version(root)
    if version == 2:
        return read_value(os.path.join(root, 'memory.swap.max'))
    if version == 1:
        total = read_value(os.path.join(root, 'memory', 'memory.memsw.limit_in_bytes'))
        memory = memory_limit(root, 1)
        if total is None:
            return 'max'
        if total == 'max' or memory == 'max' or memory is None:
            return 'max'
        return max(total - memory, 0)
    return None


def peak_memory(root=CGROUP_ROOT, version=None):
    # The most memory the cgroup has used (v2: memory.peak, from Linux 5.19; v1: max_usage_in_bytes).
    version = version or cgroup_version(root)
    if version == 2:
        value = read_value(os.path.join(root, 'memory.peak'))
    elif version == 1:
        value = read_value(os.path.join(root, 'memory', 'memory.max_usage_in_bytes'))
    else:
        value = None
    return value if isinstance(value, int) else None


def cpu_quota(root=CGROUP_ROOT, version=None):
    # The CPU quota in cores (--cpus), 'max' without one.
    version = version or cgroup_version(root)
    if version == 2:
        try:
            with open(os.path.join(root, 'cpu.max')) as handle:
                quota, period = handle.read().split()[:2]
        except (OSError, ValueError):
            return None
        return 'max' if quota == 'max' else round(int(quota) / int(period), 3)
    if version == 1:
        quota = read_value(os.path.join(root, 'cpu', 'cpu.cfs_quota_us'))
        period = read_value(os.path.join(root, 'cpu', 'cpu.cfs_period_us'))
        if not isinstance(quota, int) or not isinstance(period, int) or period <= 0:
            return None
        return 'max' if quota < 0 else round(quota / period, 3)
    return None


def pids_limit(root=CGROUP_ROOT, version=None):
    version = version or cgroup_version(root)
    if version == 2:
        return read_value(os.path.join(root, 'pids.max'))
    if version == 1:
        return read_value(os.path.join(root, 'pids', 'pids.max'))
    return None


def cgroup_view(root=CGROUP_ROOT):
    version = cgroup_version(root)
    return {
        'version': version,
        'memoryLimit': memory_limit(root, version),
        'swapAllowed': swap_allowed(root, version),
        'peakMemory': peak_memory(root, version),
        'cpuQuota': cpu_quota(root, version),
        'pidsLimit': pids_limit(root, version),
    }


def status_fields(path='/proc/self/status'):
    fields = {}
    try:
        with open(path) as handle:
            for line in handle:
                name, _, value = line.partition(':')
                fields[name] = value.strip()
    except OSError:
        pass
    return fields


def errno_name(error):
    return errno.errorcode.get(error.errno, str(error.errno))


def root_mounted_read_only(mountinfo='/proc/self/mountinfo'):
    # The mount options of / as the kernel lists them (the last mount on / is the one seen). gVisor
    # leaves ST_RDONLY out of statvfs, and checks permissions before EROFS: only this tells there.
    options = None
    try:
        with open(mountinfo) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 5 and fields[4] == '/':
                    options = fields[5].split(',')
    except OSError:
        return False
    return options is not None and 'ro' in options


def root_write():
    # Creating a file on a read-only mount fails with EROFS whoever asks (before any permission check).
    path = '/.dps-doctor-probe'
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        return errno_name(error)
    os.unlink(path)
    return 'written'


def interfaces():
    try:
        return sorted(name for _, name in socket.if_nameindex())
    except OSError:
        return sorted(os.listdir('/sys/class/net'))


def route_out():
    # Connecting a UDP socket sends nothing: it only asks for a route (192.0.2.1 is TEST-NET-1).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(('192.0.2.1', 9))
        except OSError as error:
            return errno_name(error)
    return 'routed'


def probe():
    status = status_fields()
    return {
        'uid': os.getuid(),
        'euid': os.geteuid(),
        'gid': os.getgid(),
        'capEff': status.get('CapEff'),
        'noNewPrivs': status.get('NoNewPrivs'),
        'rootReadOnly': bool(os.statvfs('/').f_flag & os.ST_RDONLY) or root_mounted_read_only(),
        'rootWrite': root_write(),
        'interfaces': interfaces(),
        'route': route_out(),
        'cgroup': cgroup_view(),
    }


if __name__ == '__main__':
    print(json.dumps(probe()))
