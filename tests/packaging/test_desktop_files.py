"""The desktop entry, AppStream metainfo and MIME type in resources/desktop pass freedesktop's validators
and agree with each other (one reverse-DNS id everywhere)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from configparser import ConfigParser
from dataclasses import asdict

import pytest

from tests.packaging.common import APP_ID, REPO, png_size

DESKTOP_DIR = REPO / "resources" / "desktop"
DESKTOP = DESKTOP_DIR / f"{APP_ID}.desktop"
METAINFO = DESKTOP_DIR / f"{APP_ID}.metainfo.xml"
MIME = DESKTOP_DIR / f"{APP_ID}.mime.xml"
MIME_TYPE = "application/x-shapeviewer-session"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return path


def _desktop_entry() -> dict:
    parser = ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(DESKTOP, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_entry_passes_desktop_file_validate():
    tool = _tool("desktop-file-validate", "desktop-file-utils")
    run = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True)
    assert run.returncode == 0 and "error" not in run.stdout, run.stdout + run.stderr


def test_metainfo_passes_appstreamcli_validate():
    tool = _tool("appstreamcli", "appstream")
    # --no-net: the screenshot URL is not fetched (no network here); its form is still checked.
    run = subprocess.run([tool, "validate", "--no-net", str(METAINFO)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_one_id_everywhere():
    entry = _desktop_entry()
    assert entry["Icon"] == APP_ID
    assert entry["MimeType"].rstrip(";").split(";") == [MIME_TYPE]
    assert entry["Exec"].split()[0] == "shapeviewer" and "%f" in entry["Exec"].split()
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    assert root.findtext("provides/mediatype") == MIME_TYPE
    assert root.findtext("provides/binary") == "shapeviewer"
    mime = ET.parse(MIME).getroot().find(f"{MIME_NS}mime-type")
    assert mime.get("type") == MIME_TYPE
    assert mime.find(f"{MIME_NS}icon").get("name") == APP_ID


def test_metainfo_release_is_the_package_version():
    from shapeviewer import __version__

    releases = ET.parse(METAINFO).getroot().findall("releases/release")
    assert releases and releases[0].get("version") == __version__, "add a <release> for the new version"


def test_screenshot_reference_names_a_file_in_the_repository():
    image = ET.parse(METAINFO).getroot().find("screenshots/screenshot/image")
    url = image.text.strip()
    assert url.startswith("https://")
    relative = url.split("/main/", 1)[1]
    assert (REPO / relative).is_file(), f"{relative} is not in the repository"
    assert png_size(REPO / relative) == (int(image.get("width")), int(image.get("height")))


def _session_file(path):
    from shapeviewer.core.registration import RegistrationSettings
    from shapeviewer.io.demo import make_demo_pair
    from shapeviewer.io.session import Session, session_bytes

    source, target = make_demo_pair(resolution=6)
    path.write_bytes(session_bytes(Session(source, target, asdict(RegistrationSettings()))))
    return path


def test_session_files_start_with_the_magic_the_mime_type_declares(tmp_path):
    data = _session_file(tmp_path / "a.svsession").read_bytes()
    assert data[:4] == b"PK\x03\x04" and data[30:42] == b"session.json"
    assert zipfile.ZipFile(tmp_path / "a.svsession").namelist()[0] == "session.json"


def test_mime_database_maps_sessions_to_shapeviewer(tmp_path):
    """update-mime-database accepts the XML, and GIO then names .svsession files (and renamed ones, by
    their content) application/x-shapeviewer-session, while other zips stay application/zip."""
    update = _tool("update-mime-database", "shared-mime-info")
    gio = _tool("gio", "libglib2.0-bin")
    packages = tmp_path / "share" / "mime" / "packages"
    packages.mkdir(parents=True)
    shutil.copy(MIME, packages / f"{APP_ID}.xml")
    run = subprocess.run([update, "-V", str(packages.parent)], capture_output=True, text=True)
    assert run.returncode == 0 and "error" not in (run.stdout + run.stderr).lower(), run.stdout + run.stderr
    session = _session_file(tmp_path / "a.svsession")
    renamed = tmp_path / "renamed"
    renamed.write_bytes(session.read_bytes())
    other = tmp_path / "other"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "not a session")
    env = {"XDG_DATA_HOME": str(tmp_path / "share"), "XDG_DATA_DIRS": "/usr/share", "PATH": "/usr/bin:/bin"}

    def content_type(path) -> str:
        out = subprocess.run(
            [gio, "info", "-a", "standard::content-type", str(path)], capture_output=True, text=True, env=env
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.split("standard::content-type:")[1].split()[0]

    assert content_type(session) == MIME_TYPE
    assert content_type(renamed) == MIME_TYPE
    assert content_type(other) == "application/zip"
