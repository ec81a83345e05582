# Warm-up hook of the docker-python-sandbox "scientific" image, run in each container at start,
# as the sandbox user, before any program: copies the matplotlib font cache made at build time
# (read-only, in the image) into the writable MPLCONFIGDIR (/tmp/matplotlib, a tmpfs), so that
# matplotlib neither rebuilds it (seconds) nor warns about a temporary cache directory.
# Fast, idempotent (files already there are kept), silent, and never raises.
def _dps_mpl_warmup():
    import os
    source = '/usr/share/docker-python-sandbox/matplotlib'
    target = os.environ.get('MPLCONFIGDIR') or '/tmp/matplotlib'
    try:
        os.makedirs(target, mode=0o700, exist_ok=True)
        for name in os.listdir(source):
            path = os.path.join(target, name)
            if os.path.lexists(path) or not os.path.isfile(os.path.join(source, name)):
                continue
            with open(os.path.join(source, name), 'rb') as f:
                data = f.read()
            # Written aside and renamed, so a reader never sees half a file.
            part = '%s.%d.part' % (path, os.getpid())
            with open(part, 'wb') as f:
                f.write(data)
            os.replace(part, path)
    except Exception:
        pass


try:
    _dps_mpl_warmup()
finally:
    del _dps_mpl_warmup
