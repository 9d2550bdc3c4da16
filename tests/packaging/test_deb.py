"""The slow part: packaging/build.sh makes the wheel, the sdist and the .deb, and the .deb holds what it should.
Marked ``packaging`` (deselected unless SHAPEVIEWER_PACKAGING=1; about 2-5 minutes and 3 GB of scratch disk).

With SHAPEVIEWER_PACKAGING_INSTALL=1 as well (marker ``packaging_install``; root, Debian, no shapeviewer package
installed yet), the .deb is installed with dpkg, its command line, a short registration and ``--self-test`` run
(with g++ and without a compiler on PATH, without a display), and it is removed again."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.packaging.common import APP_ID, ICON_SIZES, REPO

pytestmark = pytest.mark.packaging

PREFIX = "/opt/shapeviewer"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("dpkg-deb") is None:
        pytest.fail("dpkg-deb is missing: the .deb is built on Debian or Ubuntu")
    dist = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("work")
    env = dict(os.environ, SHAPEVIEWER_DIST=str(dist), SHAPEVIEWER_BUILD_DIR=str(work))
    run = subprocess.run(
        ["nice", "-n", "10", str(REPO / "packaging" / "build.sh")], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    shutil.rmtree(work, ignore_errors=True)  # the staged tree: 3 GB
    from shapeviewer import __version__ as version

    found = {
        "wheel": dist / f"shapeviewer-{version}-py3-none-any.whl",
        "sdist": dist / f"shapeviewer-{version}.tar.gz",
        "deb": dist / f"shapeviewer_{version}-1_amd64.deb",
    }
    for path in found.values():
        assert path.is_file(), f"build.sh did not make {path.name}"
    return found


def _deb_field(deb: Path, field: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True, check=True).stdout


def _deb_files(deb: Path) -> dict[str, str]:
    """{path without the leading '.': its mode string} of the .deb's data."""
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    files = {}
    for line in listing.splitlines():
        parts = line.split()
        path = parts[5][1:] if parts[5].startswith("./") else parts[5]
        files[path.rstrip("/")] = parts[0]
    return files


def test_wheel_holds_the_package_and_its_command(artifacts):
    with zipfile.ZipFile(artifacts["wheel"]) as z:
        names = z.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "shapeviewer = shapeviewer.cli:main" in z.read(entry_points).decode()
    for module in ("shapeviewer/cli.py", "shapeviewer/core/backends.py", "shapeviewer/qt/app.py"):
        assert module in names


def test_sdist_holds_the_sources(artifacts):
    with tarfile.open(artifacts["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "shapeviewer/__init__.py", "shapeviewer/cli.py"} <= names


def test_deb_control(artifacts):
    deb = artifacts["deb"]
    assert _deb_field(deb, "Package").strip() == "shapeviewer"
    assert _deb_field(deb, "Architecture").strip() == "amd64"
    depends = {d.strip().split()[0] for d in _deb_field(deb, "Depends").replace("\n", " ").split(",")}
    # KeOps compiles at run time; Qt's xcb plugin and VTK's OpenGL load these from the system.
    assert {"g++", "python3.11", "python3.11-dev", "libgl1", "libegl1", "libxcb-cursor0", "libglib2.0-0"} <= depends
    assert int(_deb_field(deb, "Installed-Size")) > 500_000  # KiB: torch, Qt, VTK


def test_deb_contents(artifacts):
    files = _deb_files(artifacts["deb"])
    expected = [
        "/usr/bin/shapeviewer",
        f"/usr/share/applications/{APP_ID}.desktop",
        f"/usr/share/metainfo/{APP_ID}.metainfo.xml",
        f"/usr/share/mime/packages/{APP_ID}.xml",
        f"/usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg",
        "/usr/share/doc/shapeviewer/copyright",
        f"{PREFIX}/bin/python",
        f"{PREFIX}/bin/shapeviewer",
        f"{PREFIX}/pyvenv.cfg",
    ] + [f"/usr/share/icons/hicolor/{s}x{s}/apps/{APP_ID}.png" for s in ICON_SIZES]
    missing = [p for p in expected if p not in files]
    assert not missing, missing
    assert files["/usr/bin/shapeviewer"].startswith("-rwxr-xr-x")
    site = f"{PREFIX}/lib/python3.11/site-packages"
    for package in ("shapeviewer", "torch", "pykeops", "keopscore", "PySide6", "vtkmodules", "pyvistaqt", "igl"):
        assert f"{site}/{package}" in files, f"{package} is not in the bundle"
    unshipped = [p for p in files if p.startswith(tuple(f"{site}/igl/{m}" for m in ("copyleft", "triangle", "embree")))]
    assert not unshipped, f"libigl modules under other licences are in the bundle: {unshipped[:3]}"
    assert any(p.startswith(f"{site}/shapeviewer/__pycache__/") and p.endswith(".pyc") for p in files)
    assert not any("nvidia" in p.split("/")[-1].lower() for p in files if p.startswith(site + "/")), "CUDA torch"


def test_deb_is_relocated_to_opt(artifacts, tmp_path):
    """No file of the environment names the folder it was built in; scripts start with /opt/shapeviewer."""
    subprocess.run(["dpkg-deb", "-x", str(artifacts["deb"]), str(tmp_path)], check=True)
    venv = tmp_path / PREFIX.lstrip("/")
    assert (venv / "bin" / "shapeviewer").read_text().startswith(f"#!{PREFIX}/bin/python")
    assert "build" not in (venv / "pyvenv.cfg").read_text().split("home =")[1].splitlines()[0]
    assert os.readlink(venv / "bin" / "python3.11").startswith("/usr/bin/python3")
    leftover = subprocess.run(
        ["grep", "-rlI", "-F", "deb-root", str(venv / "bin"), str(venv / "pyvenv.cfg")], capture_output=True, text=True
    )
    assert leftover.stdout == "", leftover.stdout


def _self_test(env: dict[str, str]) -> str:
    """The installed 'shapeviewer --self-test' output; AssertionError unless it passed."""
    run = subprocess.run(["/usr/bin/shapeviewer", "--self-test"], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[-1].startswith("self-test passed"), run.stdout
    assert f"({PREFIX}/bin/python" in lines[0], lines[0]  # the installed environment, not a development one
    assert "vtkEGLRenderWindow" in run.stdout or "vtkOSOpenGLRenderWindow" in run.stdout, run.stdout  # no display
    return run.stdout


@pytest.mark.packaging_install
def test_deb_installs_runs_and_removes(artifacts, tmp_path):
    assert os.geteuid() == 0, "SHAPEVIEWER_PACKAGING_INSTALL=1: installing with dpkg needs root"
    query = ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "shapeviewer"]
    installed = subprocess.run(query, capture_output=True, text=True).stdout.startswith("ii")
    assert not installed and not Path(PREFIX).exists(), f"shapeviewer is already installed ({PREFIX}): not touching it"
    install = subprocess.run(["dpkg", "-i", str(artifacts["deb"])], capture_output=True, text=True)
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        version = subprocess.run(["/usr/bin/shapeviewer", "--version"], capture_output=True, text=True, env=env)
        assert version.returncode == 0 and version.stdout.startswith("shapeviewer "), version.stderr
        demo = subprocess.run(
            ["/usr/bin/shapeviewer", "demo", "--out", str(tmp_path / "demo"), "--iterations", "2"],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stderr[-3000:]
        assert (tmp_path / "demo" / "result.json").is_file()
        # Without a compiler on PATH: one note, and the dense backend.
        bare = dict(env, PATH=f"{PREFIX}/bin")
        dense = subprocess.run(
            ["/usr/bin/shapeviewer", "demo", "--out", str(tmp_path / "dense"), "--iterations", "1"],
            capture_output=True, text=True, env=bare, timeout=600,
        )  # fmt: skip
        assert dense.returncode == 0, dense.stderr[-3000:]
        assert dense.stderr.count("no C++ compiler for KeOps") == 1, dense.stderr
        # --self-test without a display: KeOps with g++ (compiling into this HOME's empty cache), dense without.
        checked = _self_test(env)
        assert "backend keops (KeOps)" in checked and "KeOps formulas (first run only" in checked, checked
        assert "backend torch (dense)" in _self_test(bare)
    finally:
        remove = subprocess.run(["dpkg", "-r", "shapeviewer"], capture_output=True, text=True)
    assert remove.returncode == 0, remove.stdout + remove.stderr
    assert not Path(PREFIX).exists() and not Path("/usr/bin/shapeviewer").exists()
    # dpkg keeps the record of a removed package that has maintainer scripts (postrm) until it is purged.
    purge = subprocess.run(["dpkg", "--purge", "shapeviewer"], capture_output=True, text=True)
    assert purge.returncode == 0, purge.stdout + purge.stderr
