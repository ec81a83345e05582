/**
 * The loader: a Python program started in each pooled container at warm-up with `docker exec -i`.
 * It starts the interpreter, says it is ready, and blocks on stdin. A run sends one go line;
 * the loader then runs the code file as `__main__` in this never-used interpreter (the container
 * runs exactly one program, so the interpreter is as fresh as `python3 file.py`), reproduces
 * CPython's exit handling, and ends with an in-band exit marker on both streams so the host need
 * not wait for `docker exec` to wind down. The marker carries a per-run nonce the host chose.
 *
 * A program can forge the marker only about its own run (its exit status is its own to choose);
 * timeouts and kills are decided on the host.
 */

/** Printed by the loader once it is ready for a go line. */
export const READY_LINE = '\x1edps-ready\n';

/** Prefix of the exit markers; `${MARKER_PREFIX}${nonce}` then `:<status>\n` on stdout, `\n` on stderr. */
export const MARKER_PREFIX = '\x1edps-exit:';

/** What the host sends to start the run: the marker nonce and the code file's path. */
export function goLine(nonce: string, path: string): string {
  return `${nonce} ${path}\n`;
}

export const LOADER_SOURCE = String.raw`
import os, sys

def _dps_exit_status(exc):
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

def _dps_write_all(fd, data):
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass

def _dps_main():
    _dps_write_all(1, b'\x1edps-ready\n')
    line = sys.stdin.buffer.readline()
    if not line:
        os._exit(0)
    nonce, path = line.decode().split()
    # The program reads EOF on stdin, never the loader's pipe.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    main = type(sys)('__main__')
    main.__dict__.update(__file__=path, __cached__=None, __builtins__=__builtins__, __spec__=None, __package__=None)
    sys.modules['__main__'] = main
    sys.argv[:] = [path]
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
            tb = tb.tb_next
        try:
            sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        except BaseException:
            pass
        status = 1
    # What the interpreter does at exit, before the marker: join threads, run atexit, flush.
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
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass
    marker = ('\x1edps-exit:' + nonce).encode()
    _dps_write_all(2, marker + b'\n')
    _dps_write_all(1, marker + (':%d\n' % status).encode())
    os._exit(status)

_dps_main()
`;
