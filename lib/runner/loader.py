"""
The loader: a Python program that is each pooled container's main process, passed to
`python3 -c` by the host (lib/runner/loader.ts), so it needs no file in the image and no per-run
docker call. It starts the interpreter, forks the program's process ahead of time, says it is
ready, and blocks on stdin. A run sends one go line; the loader hands it to the waiting child,
which runs the code file as `__main__` in this never-used interpreter (the container runs exactly
one program, so it is as fresh as `python3 file.py`) and exits as `python3 file.py` would:
tracebacks, `sys.exit`, threads joined, atexit, open files flushed. Forked at warm-up, the child
costs a run neither the fork (~1 ms under runc, ~30 ms under gVisor) nor the first touches of
the compiler's memory.

The verdict is an in-band exit marker on both streams (a per-run nonce the host chose, then the
exit status, the signal and the OOM-kill count), so the host need not wait for Docker to notice.
A program that ends normally is reported by its own process, before it exits: the host has its
result without waiting for the process's teardown. The loader waits for the child all the same
and reports again (the host keeps the first report): its report is the one that counts when the
program was killed (a signal, the OOM killer), left through os._exit, or asked for files to be
collected. A program can forge the marker only about its own run; timeouts and kills are
decided on the host.

The run's inputs (code, stdin, files, inputs.json) are in /sandbox-in before the program starts:
either the host wrote them into a directory the container sees through a read-only bind mount, or
they follow the go line on stdin (its payload length says how many bytes), and this program writes
them into /sandbox-in (a tmpfs) itself, as the same files: from then on both paths are one.

A container must not outlive its owner for long, even on an engine whose host cannot see the
owner: the loader ends the program and exits (the engine then removes the container: --rm) when
its stdin closes mid-run (the owner's docker CLI died, or its connection to the engine dropped),
and at a deadline the host sends with each run, past the run's own time limit.

The wire format's literals live in protocol.json beside this file: the host reads it, and hands
it to this program as its first argument. Unit tests: spec/python/test_loader.py.
"""
import os, sys
# What the run path needs, imported now, at warm-up: json alone costs ~10 ms and shutil ~15 ms
# on first import in a fresh container, resource ~0.3 ms.
import atexit, fnmatch, gc, json, resource, select, shutil, signal, stat, time, _thread

def _dps_write_all(fd, data):
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass

def _dps_oom_kills(cgroup_root='/sys/fs/cgroup'):
    # OOM kills counted by the container's memory cgroup: cgroup v1's memory controller, else the
    # v2 unified hierarchy (one directory for every controller); -1 without either (gVisor shows
    # none). The root is a parameter for the unit tests' fixture trees.
    for path in (cgroup_root + '/memory/memory.oom_control', cgroup_root + '/memory.events'):
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

def _dps_run_program(path, inputs, inband=False):
    if inputs.get('files'):
        shutil.copytree(inputs['files'], os.getcwd(), dirs_exist_ok=True)
        if inband:
            # Received in-band, the files' pages in /sandbox-in count against the memory limit:
            # once copied into the work dir they are not held twice.
            shutil.rmtree(inputs['files'], ignore_errors=True)
    # The program reads its stdin file, or EOF at once: never the loader's pipe.
    stdin = os.open(inputs.get('stdin') or os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    os.environ.update(inputs.get('env', {}))
    main = type(sys)('__main__')
    main.__dict__.update(__file__=path, __cached__=None, __builtins__=__builtins__, __spec__=None, __package__=None)
    sys.modules['__main__'] = main
    sys.argv[:] = [path] + inputs.get('argv', [])
    # The program's own directory first, as `python3 main.py` has it, then the work dir: the
    # files a run brings (helper.py beside main.py, as Piston lays them out) are importable.
    sys.path[0:1] = [os.path.dirname(path), os.getcwd()]
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
        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        main.__dict__.clear()
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

class _DpsInput:
    # The container's stdin, read without a buffered layer: the go line, then the payload that
    # may follow it. Reads take a deadline (None: wait as long as it takes). What was read but
    # not consumed yet is buffer[offset:]; pieces are handed out as views, never copied.
    def __init__(self, fd):
        self.fd = fd
        self.buffer = b''
        self.offset = 0

    def _more(self, deadline):
        if deadline is not None:
            left = deadline.at - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise _DpsGone('deadline')
        chunk = os.read(self.fd, 1 << 18)
        if not chunk:
            raise _DpsGone('eof')
        return chunk

    def readline(self, deadline=None):
        while True:
            end = self.buffer.find(b'\n', self.offset)
            if end >= 0:
                line, self.offset = self.buffer[self.offset:end + 1], end + 1
                return line
            self.buffer, self.offset = self.buffer[self.offset:] + self._more(deadline), 0

    def copy(self, size, sink, deadline):
        # Passes exactly size bytes to sink, in pieces.
        while size > 0:
            if self.offset == len(self.buffer):
                self.buffer, self.offset = self._more(deadline), 0
            take = min(size, len(self.buffer) - self.offset)
            sink(memoryview(self.buffer)[self.offset:self.offset + take])
            self.offset += take
            size -= take

class _DpsGone(Exception):
    # The run's owner is gone ('eof': stdin closed) or the run's deadline passed ('deadline').
    pass

class _DpsIdleLimit:
    # When an idle loader stops waiting for a go line (time.monotonic() seconds).
    def __init__(self, seconds):
        self.at = time.monotonic() + seconds

class _DpsDeadline:
    # When the loader gives up on the run (time.monotonic() seconds). The watcher reads `at`
    # again after each wait, so the main thread may move it (see _dps_extend).
    def __init__(self, seconds):
        self.at = time.monotonic() + seconds
        _dps_arm_alarm(seconds)

def _dps_arm_alarm(seconds):
    # A second, blunter guard: SIGALRM's default action ends this process whatever it is doing
    # (should the watcher thread not run). It fires a little after the watcher's deadline, which
    # normally acts first. Timers are not inherited: the program's process never has this one.
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds + 1.0)
    except (OSError, ValueError):
        pass

def _dps_extend(deadline, seconds):
    deadline.at = time.monotonic() + seconds
    _dps_arm_alarm(seconds)

def _dps_parse_go(line):
    # nonce, code path, inputs path ('-': none), payload bytes, run deadline ms, report deadline ms
    nonce, path, inputs_path, payload, run_ms, report_ms = line.decode().split()
    return nonce, path, inputs_path, int(payload), int(run_ms) / 1000.0, int(report_ms) / 1000.0

def _dps_entry_target(root, relative):
    # A payload entry's place under root: relative, no '..', no empty or '.' segments.
    parts = relative.split('/')
    if relative.startswith('/') or any(part in ('', '.', '..') for part in parts):
        raise ValueError('bad path in the payload: %r' % relative)
    return os.path.join(root, *parts)

def _dps_unpack(source, size, deadline):
    # The payload: a JSON header line {"root": dir, "entries": [[relative path, bytes], ...]},
    # then each entry's bytes in that order. Writes each entry under root as the host writes it
    # on the mount path (dirs 0755, files 0644). Every byte is read even after a failure, so the
    # stream stays in step; returns None, or what went wrong.
    header_line = source.readline(deadline)
    header = json.loads(header_line)
    root, entries = header['root'], header['entries']
    if len(header_line) + sum(length for _, length in entries) != size:
        raise ValueError('the payload header does not add up to the payload length')
    problem = None
    for relative, length in entries:
        fd = None
        if problem is None:
            try:
                target = _dps_entry_target(root, relative)
                os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            except (OSError, ValueError) as exc:
                problem = '%s: %s' % (relative, exc)
        def sink(piece, fd=fd):
            nonlocal problem
            if fd is not None and problem is None:
                try:
                    _dps_write_fully(fd, piece)
                except OSError as exc:
                    problem = '%s: %s' % (relative, exc)
        try:
            source.copy(length, sink, deadline)
        finally:
            if fd is not None:
                os.close(fd)
    return problem

def _dps_write_fully(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

def _dps_start_watcher(fd, deadline, abandon):
    # A watcher thread needs a free pid: a fork bomb may have taken them all by now. Without one
    # the run still ends at its deadline (the alarm _DpsDeadline armed) and the host's time limit
    # still applies; only the early end on stdin's EOF is lost. Returns whether it started.
    try:
        _thread.start_new_thread(_dps_watch, (fd, deadline, abandon))
        return True
    except RuntimeError:
        return False

def _dps_watch(fd, deadline, abandon):
    # The watcher thread: the run ends with its owner (stdin closes: EOF) or at its deadline.
    # Started with _thread, so the program's threading module never lists or joins it.
    while True:
        left = deadline.at - time.monotonic()
        if left <= 0:
            return abandon('deadline')
        try:
            readable = select.select([fd], [], [], left)[0]
        except (OSError, ValueError):
            time.sleep(left)  # the fd is unusable: the deadline still holds
            continue
        if readable:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b''
            if not data:
                return abandon('eof')

def _dps_abandon_run(reason, program_pid=None):
    # The owner is gone, or the run outlived its deadline: the program goes, and so does the
    # loader; its container's init follows it, which ends every process left in the container.
    if reason == 'deadline':
        _dps_write_all(2, b'\nthe sandbox loader ended the program: it ran past its deadline\n')
    if program_pid is not None:
        try:
            os.kill(program_pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(137)

def _dps_probe_inputs(probe, unseen_marker):
    # Before the first run, on the mount path: the host wrote a nonce into the input dir; if this
    # container does not see it, the engine does not see the host's files (another host, another
    # mount namespace): say so and exit, and the host sends inputs on stdin instead.
    try:
        with open(probe['path'], 'rb') as handle:
            seen = handle.read(256).decode(errors='replace').strip()
        if seen == probe['nonce']:
            return
        why = 'holds %r, not the nonce the host wrote' % seen[:64]
    except OSError as exc:
        why = str(exc)
    _dps_write_all(2, ('%s %s: %s\n' % (unseen_marker, probe['path'], why)).encode())
    os._exit(3)

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

def _dps_usage(before):
    # The program's CPU time since `before` (its process's, at the start) and the children it
    # waited for; its peak memory, or theirs.
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = _dps_cpu_ms(own) - _dps_cpu_ms(before) + _dps_cpu_ms(children)
    return cpu_ms, max(own.ru_maxrss, children.ru_maxrss)

def _dps_read_go(fd):
    # The run as the loader hands it to the program's process: everything up to EOF.
    data = b''
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk

def _dps_program_process(protocol, go_fd, warm_fd):
    # The child forked at warm-up: it warms up, says so on warm_fd (closed then), waits for its
    # run, runs it, and reports its own end.
    # Under memory pressure the kernel must pick the program, never the loader reporting on it.
    try:
        with open('/proc/self/oom_score_adj', 'w') as adj:
            adj.write('1000')
    except OSError:
        pass
    # The first compile in a process touches memory the parser keeps (~0.7 ms under runc): paid
    # now, not by the run. It leaves nothing a program can see.
    compile(b'print("warm")\n', '<warm-up>', 'exec')
    _dps_write_all(warm_fd, b'w')
    os.close(warm_fd)
    go = _dps_read_go(go_fd)
    os.close(go_fd)
    if not go:
        os._exit(0)  # the loader ended without a run
    nonce, path, inputs, inband = json.loads(go)
    before = resource.getrusage(resource.RUSAGE_SELF)
    status = _dps_run_program(path, inputs, inband)
    if not inputs.get('collect'):
        # Collecting needs the loader (it stops leftovers first): it reports then. Else the
        # program's end is known here, before this process's teardown.
        cpu_ms, max_rss_kib = _dps_usage(before)
        _dps_report(protocol, nonce, status, 0, _dps_oom_kills(), cpu_ms, max_rss_kib, inputs)
    os._exit(status)

def _dps_fork_program(protocol):
    # Forks the program's process and waits until it has warmed up (a run sent earlier would
    # wait for that: under gVisor it takes milliseconds); returns its pid and the pipe that hands
    # it the run. Called before any thread starts: forking a process that has threads is unsafe.
    go_read, go_write = os.pipe()
    warm_read, warm_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_write)
        os.close(warm_read)
        try:
            _dps_program_process(protocol, go_read, warm_write)
        finally:
            os._exit(1)  # never back into the loader's code
    os.close(go_read)
    os.close(warm_write)
    os.read(warm_read, 1)  # b'w', or EOF if the child died: its run then reports that
    os.close(warm_read)
    return pid, go_write

def _dps_main(protocol, settings):
    _dps_warm_up(protocol['warmupHook'], settings['preload'])
    if settings.get('probe'):
        _dps_probe_inputs(settings['probe'], protocol['inputsUnseen'])
    # Everything alive now (the interpreter, the loader, preloaded modules) is never garbage:
    # frozen, the program's collections (and the one at its end) need not walk it again, and
    # the forked child does not touch those pages.
    gc.freeze()
    pid, go_write = _dps_fork_program(protocol)
    _dps_write_all(1, protocol['readyLine'].encode())
    source = _DpsInput(0)
    # A warm container waits for its run at most idleSeconds, then ends (the engine removes it and
    # the pool makes a fresh one): the bound on an idle container whose owner vanished without
    # its stdin closing (a host that lost power, a connection that never breaks).
    idle = settings.get('idleSeconds')
    try:
        line = source.readline(None if not idle else _DpsIdleLimit(idle))
    except _DpsGone:
        os._exit(0)  # stdin closed, or idle too long: the owner is gone, or will make another
    # The first bytes on stdout after the go line: the host then knows the program may have
    # started. A container that dies before this never ran anything, and the run can go elsewhere.
    _dps_write_all(1, protocol['goAck'].encode())
    nonce, path, inputs_path, payload, run_s, report_s = _dps_parse_go(line)
    deadline = _DpsDeadline(run_s)
    problem = None
    if payload:
        try:
            problem = _dps_unpack(source, payload, deadline)
        except _DpsGone as gone:
            _dps_abandon_run(str(gone), pid)
        except (ValueError, KeyError, TypeError) as exc:
            problem = 'the payload could not be read: %s' % exc
    if problem is not None:
        # Nothing ran: report the failure as the run's, like a program that could not start.
        _dps_write_all(2, ('the sandbox could not receive the run\'s inputs: %s\n' % problem).encode())
        _dps_extend(deadline, report_s)
        _dps_report(protocol, nonce, 1, 0, _dps_oom_kills(), 0, 0, {})
        os._exit(1)
    # Read before the program runs: it could change the file (on the stdin path it owns it).
    inputs = _dps_read_inputs(inputs_path)
    _dps_write_all(go_write, json.dumps([nonce, path, inputs, payload > 0]).encode())
    os.close(go_write)
    # Only now a thread: the child is forked.
    _dps_start_watcher(0, deadline, lambda reason: _dps_abandon_run(reason, pid))
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signal_number = os.WTERMSIG(status)
        code = 128 + signal_number
    else:
        signal_number = 0
        code = os.WEXITSTATUS(status)
    # When the program's process reported already, the host has what it needs and ignores this.
    _dps_extend(deadline, report_s)
    _dps_report(protocol, nonce, code, signal_number, _dps_oom_kills(), _dps_cpu_ms(usage), usage.ru_maxrss, inputs)
    # The container's exit status is the program's too: the last word if both reports were lost.
    os._exit(code & 0xFF)

if __name__ == '__main__':
    # python3 -c SOURCE PROTOCOL_JSON SETTINGS_JSON ({"preload": [...], "probe": {path, nonce}|null, "idleSeconds": N})
    _dps_main(json.loads(sys.argv[1]), json.loads(sys.argv[2]))
