"""
doctor's CPU probe: a busy loop for `seconds` of wall time that watches the clock. Under a CPU
quota of q cores, the loop runs about q of each second and stands still the rest (the scheduler
throttles it); each stall shows as a jump of the clock between two of its readings. Returns the
wall time, the time it ran (wall time less the stalls) and its CPU time as the kernel it runs
on counts it (gVisor's counts stalls of its host thread as running: the stalls are what tell).
"""
import json
import sys
import time

# Longer than a loop turn, even under gVisor; shorter than any scheduling period.
STALL = 0.0005


def probe(seconds):
    start = last = time.monotonic()
    end = start + float(seconds)
    cpu_start = time.process_time()
    stalled = 0.0
    while last < end:
        now = time.monotonic()
        if now - last > STALL:
            stalled += now - last
        last = now
    wall = last - start
    return {'wallSeconds': wall, 'runningSeconds': wall - stalled, 'cpuSeconds': time.process_time() - cpu_start}


if __name__ == '__main__':
    print(json.dumps(probe(*sys.argv[1:])))
