"""
doctor's storage probe: fills /tmp (a size-capped tmpfs) with files smaller than the file-size
limit until a write fails, then writes one file in the work dir past the file-size limit
(RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails with EFBIG instead of killing it).
Takes the most MiB to try for each, and the tmpfs to fill (/tmp).
"""
import errno
import json
import os
import sys

MIB = 1024 * 1024
CHUNK = 256 * 1024


def fill(paths, most):
    # Writes CHUNK after CHUNK, to each path in turn once the previous one holds `per_file` bytes.
    chunk = b'\x01' * CHUNK
    written, error = 0, None
    try:
        for path, per_file in paths:
            with open(path, 'wb', buffering=0) as handle:
                for _ in range(per_file // CHUNK):
                    if written >= most:
                        return written, None
                    written += handle.write(chunk)
    except OSError as exc:
        error = errno.errorcode.get(exc.errno, str(exc.errno))
    return written, error


def probe(mib, tmp):
    most = int(mib) * MIB
    # The tmpfs: files of 1 MiB, below any file-size limit doctor sets, so only its size can stop them.
    tmp_written, tmp_error = fill([(os.path.join(tmp, 'dps-fill-%d' % i), MIB) for i in range(most // MIB + 1)], most)
    for name in os.listdir(tmp):
        if name.startswith('dps-fill-'):
            os.unlink(os.path.join(tmp, name))
    file_path = os.path.join(os.getcwd(), 'dps-big-file')
    file_written, file_error = fill([(file_path, most + CHUNK)], most)
    os.unlink(file_path)
    return {'tmpBytes': tmp_written, 'tmpError': tmp_error, 'fileBytes': file_written, 'fileError': file_error}


if __name__ == '__main__':
    print(json.dumps(probe(*sys.argv[1:])))
