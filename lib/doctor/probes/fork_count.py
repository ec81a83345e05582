"""
doctor's pids probe: starts children that wait (on a pipe) until the kernel refuses one, at most
`cap` of them, then lets them go and reaps them. Returns how many it got, and why the next failed.
"""
import errno
import json
import os
import sys


def probe(cap):
    cap = int(cap)
    read_end, write_end = os.pipe()
    children, refused = [], None
    while len(children) < cap:
        try:
            pid = os.fork()
        except OSError as error:
            refused = errno.errorcode.get(error.errno, str(error.errno))
            break
        if pid == 0:
            os.close(write_end)
            os.read(read_end, 1)  # EOF once the parent closes its end
            os._exit(0)
        children.append(pid)
    os.close(write_end)
    os.close(read_end)
    for pid in children:
        os.waitpid(pid, 0)
    return {'forks': len(children), 'refused': refused}


if __name__ == '__main__':
    print(json.dumps(probe(*sys.argv[1:])))
