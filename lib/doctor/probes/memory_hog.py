"""
doctor's memory probe: touches `mib` MiB, a MiB at a time, which is more than the container's
memory limit. Where the limit holds, the kernel's OOM killer ends it before it returns; where it
does not, its result says how much it got. (With `mib` just above the limit, the swap probe: the
allocation must not succeed by swapping.)
"""
import json
import sys

MIB = 1024 * 1024


def probe(mib):
    hoard = []
    for _ in range(int(mib)):
        hoard.append(b'\x01' * MIB)  # filled, so every page is really used (calloc'd pages would not be)
    return {'allocatedMib': len(hoard)}


if __name__ == '__main__':
    print(json.dumps(probe(*sys.argv[1:])))
