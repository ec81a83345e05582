"""
doctor's probe driver: the program each probe container runs. The probe modules beside it
(isolation.py, fill_storage.py, ...) arrive as the run's files, in the work dir, which is on
sys.path. argv names the probes to run in order, each as name[:arg[:arg...]]; each prints one JSON
line as soon as it is done, {"probe": name, "result": {...}} (or "error"), so that a probe the
kernel kills (the memory probe, or a fork loop under gVisor) leaves the lines of those before it.
"""
import importlib
import json
import sys


def main(specs):
    for spec in specs:
        name, *args = spec.split(':')
        try:
            line = {'probe': name, 'result': importlib.import_module(name).probe(*args)}
        except Exception as exc:
            line = {'probe': name, 'error': '%s: %s' % (type(exc).__name__, exc)}
        print(json.dumps(line), flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
