"""A folder on a full file system, for the tests of what a full disk does to outputs."""

import pytest


@pytest.fixture(name="full_disk")
def full_disk_folder(tmp_path, monkeypatch):
    """A folder on a full file system: a tiny tmpfs when we may mount one, else writes that fail as one would."""
    import errno
    import subprocess

    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode == 0:
        with open(folder / "filler", "wb") as f:
            try:
                f.write(b"\0" * 65536 * 2)
            except OSError:
                pass
        yield folder
        subprocess.run(["umount", "-l", str(folder)], check=False)
        return

    def no_space(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    from shapeviewer.io import atomic
    from shapeviewer.render import encoder

    (folder / "filler").write_bytes(b"")
    monkeypatch.setattr(atomic, "write_bytes", no_space)
    for module in ("meshes", "results", "masks"):
        monkeypatch.setattr(f"shapeviewer.io.{module}.write_bytes", no_space)
    monkeypatch.setattr(encoder.FramePipe, "close", lambda self: (self.kill(), no_space(self.path, b""))[1])
    yield folder
