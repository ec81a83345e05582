"""
The loader: a Python program that is each pooled container's main process, passed to
`python3 -c` by the host (lib/runner/loader.ts), so it needs no file in the image and no per-run
docker call. It starts the interpreter, says it is ready, and blocks on stdin. A run sends one go
line; the loader then forks, and the child runs the code file as `__main__` in this never-used
interpreter (the container runs exactly one program, so it is as fresh as `python3 file.py`) and
exits as `python3 file.py` would: tracebacks, `sys.exit`, threads joined, atexit, open files
flushed. (Under gVisor the loader runs the program in its own process instead: mode 'inline'.)

The parent waits for that child, reads the container's memory cgroup for OOM kills, and ends with
an in-band exit marker on both streams (a per-run nonce the host chose, then the exit status, the
signal and the OOM-kill count), so the host need not wait for Docker to notice. A program can
forge the marker only about its own run; timeouts and kills are decided on the host.

The wire format's literals live in protocol.json beside this file: the host reads it, and hands
it to this program as its first argument. Unit tests: spec/python/test_loader.py.
"""
import os, sys
# What the run path needs, imported now, at warm-up: json alone costs ~10 ms and shutil ~15 ms
# on first import in a fresh container.
import fnmatch, json, shutil, stat

def _dps_write_all(fd, data):
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass

def _dps_oom_kills():
    for path in ('/sys/fs/cgroup/memory/memory.oom_control', '/sys/fs/cgroup/memory.events'):
        try:
            with open(path) as counters:
                for line in counters:
                    if line.startswith('oom_kill '):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
    return -1

def _dps_exit_status(exc):
    # CPython's handling of SystemExit: None is 0, an int is the status, anything else is printed.
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1

def _dps_read_inputs(inputs_path):
    if inputs_path == '-':
        return {}
    with open(inputs_path, 'rb') as handle:
        return json.load(handle)

def _dps_run_program(path, inputs):
    if inputs.get('files'):
        shutil.copytree(inputs['files'], os.getcwd(), dirs_exist_ok=True)
    # The program reads its stdin file, or EOF at once: never the loader's pipe.
    stdin = os.open(inputs.get('stdin') or os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    os.environ.update(inputs.get('env', {}))
    main = type(sys)('__main__')
    main.__dict__.update(__file__=path, __cached__=None, __builtins__=__builtins__, __spec__=None, __package__=None)
    sys.modules['__main__'] = main
    sys.argv[:] = [path] + inputs.get('argv', [])
    sys.path[0] = os.path.dirname(path)
    # Line-buffered, so output printed before a timeout or kill reaches the host, over a buffered
    # layer that retries short writes (unbuffered -u loses bytes when a pipe write is partial,
    # which gVisor does under load).
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    status = 0
    try:
        with open(path, 'rb') as source:
            code = compile(source.read(), path, 'exec')
        exec(code, main.__dict__)
    except SystemExit as exc:
        status = _dps_exit_status(exc)
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == '<string>':
            tb = tb.tb_next  # the loader's own frames are not the program's
        try:
            sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        except BaseException:
            pass
        status = 1
    # What interpreter shutdown does that a program can observe, without the ~6 ms of tearing
    # down every module: join threads, run atexit, let the program's objects go (files it left
    # open are flushed and closed), flush the standard streams.
    try:
        threading = sys.modules.get('threading')
        if threading is not None:
            threading._shutdown()
    except BaseException:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        main.__dict__.clear()
        import gc
        gc.collect()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return status

def _dps_cpu_ms(usage):
    return int((usage.ru_utime + usage.ru_stime) * 1000)

def _dps_pattern_matches(parts, segments):
    # Glob rules, by path segment: * ? [..] within a name, ** for any number of directories;
    # a wildcard does not match a name starting with '.' (name it: '.cache/**').
    memo = {}
    def match(i, j):
        key = (i, j)
        if key not in memo:
            if j == len(segments):
                memo[key] = i == len(parts)
            elif segments[j] == '**':
                memo[key] = match(i, j + 1) or (i < len(parts) and not parts[i].startswith('.') and match(i + 1, j))
            else:
                name, segment = parts[i] if i < len(parts) else None, segments[j]
                memo[key] = (
                    name is not None
                    and (segment.startswith('.') or not name.startswith('.'))
                    and fnmatch.fnmatchcase(name, segment)
                    and match(i + 1, j + 1)
                )
        return memo[key]
    return match(0, 0)

def _dps_collect_plan(request, workdir):
    # Which files of the work dir go back: what the patterns match (a directory brings its
    # tree), in path order, while they fit under the caps; the rest are listed with the reason.
    # The work dir is walked without following symbolic links, so nothing outside it is looked
    # at. Nothing else runs now (see _dps_stop_leftovers): sizes hold until the files are sent.
    max_bytes, max_files = request['maxBytes'], request['maxFiles']
    patterns = [pattern.split('/') for pattern in request['patterns']]
    budget = 100 * max_files  # entries looked at, at most
    found, skipped, included_dirs = {}, [], set()
    for root, dirs, names in os.walk(workdir):
        dirs.sort()
        rel_root = os.path.relpath(root, workdir)
        for name in sorted(dirs + names):
            budget -= 1
            if budget < 0:
                break
            rel = name if rel_root == '.' else rel_root + '/' + name
            parts = rel.split('/')
            if rel_root not in included_dirs and not any(_dps_pattern_matches(parts, p) for p in patterns):
                continue
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                included_dirs.add(rel)
            elif stat.S_ISLNK(info.st_mode):
                found[rel] = 'is a symbolic link (not followed)'
            elif stat.S_ISREG(info.st_mode):
                found[rel] = info.st_size
            else:
                found[rel] = 'is not a regular file'
        if budget < 0:
            skipped.append(['*', 'the work dir has more than %d entries; the rest were not looked at' % (100 * max_files)])
            break
    files, total = [], 0
    for path in sorted(found):
        size = found[path]
        if isinstance(size, str):
            skipped.append([path, size])
        elif len(files) >= max_files:
            skipped.append([path, 'more than %d files were collected' % max_files])
        elif total + size > max_bytes:
            skipped.append([path, '%d bytes would exceed maxCollectBytes (%d bytes; %d already collected)' % (size, max_bytes, total)])
        else:
            files.append([path, size])
            total += size
    return files, skipped[:max_files]

def _dps_send_collected(files, header):
    _dps_write_all(1, header)
    for path, size in files:
        left = size
        try:
            fd = os.open(os.path.join(_dps_workdir, path), os.O_RDONLY | os.O_NOFOLLOW)
            try:
                while left > 0:
                    chunk = os.read(fd, min(left, 1 << 20))
                    if not chunk:
                        break
                    _dps_write_all(1, chunk)
                    left -= len(chunk)
            finally:
                os.close(fd)
        except OSError:
            pass
        if left > 0:
            _dps_write_all(1, bytes(left))  # keeps the section's length as announced

def _dps_stop_leftovers():
    # Processes the program left behind (daemons) could still write files or output: stop them
    # all (every process of this user in the container but this one) before collecting.
    import signal
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass

def _dps_collect_section(request, workdir):
    # The collected-files section: a JSON header line (files to send, files skipped and why)
    # kept under the host's limit, and the files to send after it.
    try:
        files, skipped = _dps_collect_plan(request, workdir)
    except BaseException as exc:
        files, skipped = [], [[pattern, 'could not be collected: %r' % exc] for pattern in request['patterns']]
    header = (json.dumps({'files': files, 'skipped': skipped}) + '\n').encode()
    if len(header) > request['maxHeaderBytes']:
        skipped = [['*', 'too many files were skipped to list them']]
        header = (json.dumps({'files': files, 'skipped': skipped}) + '\n').encode()
    if len(header) > request['maxHeaderBytes']:
        files = []
        skipped = [[pattern, 'could not be collected: the file names are too long to list'] for pattern in request['patterns']]
        header = (json.dumps({'files': files, 'skipped': skipped}) + '\n').encode()
    return files, header

def _dps_marker_lines(marker_prefix, nonce, code, signal, oom_kills, cpu_ms, max_rss_kib, collected):
    # The verdict, for stderr and for stdout (only stdout's announces the collected bytes that
    # follow it): see parseExitReport in lib/runner/loader.ts.
    marker = (marker_prefix + nonce).encode()
    trailer = ':%d:%d:%d:%d:%d:' % (code, signal, oom_kills, cpu_ms, max_rss_kib)
    return marker + (trailer + '0\n').encode(), marker + (trailer + '%d\n' % collected).encode()

def _dps_report(protocol, nonce, code, signal, oom_kills, cpu_ms, max_rss_kib, inputs):
    request = inputs.get('collect')
    files, header = [], b''
    if request:
        _dps_stop_leftovers()
        files, header = _dps_collect_section(request, _dps_workdir)
    collected = len(header) + sum(size for _, size in files)
    to_stderr, to_stdout = _dps_marker_lines(protocol['markerPrefix'], nonce, code, signal, oom_kills, cpu_ms, max_rss_kib, collected)
    # The verdict goes on both streams (files only on stdout): if the engine loses the end of one
    # stream as the container exits, the other still carries it.
    _dps_write_all(2, to_stderr)
    _dps_write_all(1, to_stdout)
    if request:
        _dps_send_collected(files, header)

_dps_workdir = os.getcwd()

def _dps_warm_up(hook, preload):
    # The image's own warm-up (e.g. a prepared matplotlib cache), then the modules the Sandbox
    # asked for, so that programs find them imported.
    if os.path.isfile(hook):
        with open(hook, 'rb') as source:
            exec(compile(source.read(), hook, 'exec'), {'__name__': '__dps_warmup__', '__file__': hook})
    import importlib
    for name in preload:
        try:
            importlib.import_module(name)
        except BaseException as exc:
            sys.stderr.write('preload: cannot import %s (%s: %s); install it in the image or take it out of preload\n' % (name, type(exc).__name__, exc))
            sys.stderr.flush()
            os._exit(1)

def _dps_main(protocol, mode, preload):
    _dps_warm_up(protocol['warmupHook'], preload)
    # Everything alive now (the interpreter, the loader, preloaded modules) is never garbage:
    # frozen, the program's collections (and the one at its end) need not walk it again, and
    # the forked child does not touch those pages.
    import gc
    gc.freeze()
    _dps_write_all(1, protocol['readyLine'].encode())
    line = sys.stdin.buffer.readline()
    if not line:
        os._exit(0)
    # The first bytes on stdout after the go line: the host then knows the program may have
    # started. A container that dies before this never ran anything, and the run can go elsewhere.
    _dps_write_all(1, protocol['goAck'].encode())
    nonce, path, inputs_path = line.decode().split()
    inputs = _dps_read_inputs(inputs_path)
    if mode == 'inline':
        # gVisor: a fork costs ~30 ms there, and a sandbox killed at its limit dies as a whole
        # (the host learns of it from the engine), so the program runs in this very process.
        import resource
        before = _dps_cpu_ms(resource.getrusage(resource.RUSAGE_SELF))
        status = _dps_run_program(path, inputs)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        _dps_report(protocol, nonce, status, 0, -1, _dps_cpu_ms(usage) - before, usage.ru_maxrss, inputs)
        os._exit(status)
    pid = os.fork()
    if pid == 0:
        # Under memory pressure the kernel must pick the program, never the loader reporting on it.
        try:
            with open('/proc/self/oom_score_adj', 'w') as adj:
                adj.write('1000')
        except OSError:
            pass
        os._exit(_dps_run_program(path, inputs))
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signal = os.WTERMSIG(status)
        code = 128 + signal
    else:
        signal = 0
        code = os.WEXITSTATUS(status)
    _dps_report(protocol, nonce, code, signal, _dps_oom_kills(), _dps_cpu_ms(usage), usage.ru_maxrss, inputs)
    # The container's exit status is the program's too: the last word if both reports were lost.
    os._exit(code & 0xFF)

if __name__ == '__main__':
    # python3 -c SOURCE PROTOCOL_JSON MODE [PRELOAD...]
    _dps_main(json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:])
