#!/usr/bin/env bash
# Builds shapeviewer's Linux artifacts into dist/ (or $SHAPEVIEWER_DIST):
#   shapeviewer-<version>.tar.gz and shapeviewer-<version>-py3-none-any.whl   (python -m build)
#   shapeviewer_<version>-1_amd64.deb   a self-contained app under /opt/shapeviewer (see packaging/README.md)
#
#   packaging/build.sh            wheel, sdist and .deb (the .deb takes minutes and about 2 GB of scratch disk)
#   packaging/build.sh --no-deb   wheel and sdist only (seconds)
#
# Needs: Debian/Ubuntu with python3.11 (+ python3.11-venv), dpkg-deb; PyPI (or the machine's pip index)
# for the dependencies. Scratch files go to build/packaging/ (or $SHAPEVIEWER_BUILD_DIR); .venv is not touched.
set -euo pipefail
umask 022
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIST="${SHAPEVIEWER_DIST:-$ROOT/dist}"
WORK="${SHAPEVIEWER_BUILD_DIR:-$ROOT/build/packaging}"
APP_ID="io.github.shapeviewer.ShapeViewer"
PREFIX="/opt/shapeviewer"
# The Python the .deb's environment runs on: Debian's own, so that the package depends on a Debian package
# (python3.11) and KeOps finds the matching headers (python3.11-dev). Not a pyenv or /usr/local Python.
PYTHON="${SHAPEVIEWER_DEB_PYTHON:-/usr/bin/python3.11}"
# The project has no published maintainer address yet: set this when publishing the package.
MAINTAINER="${SHAPEVIEWER_DEB_MAINTAINER:-The shapeviewer developers <maintainers@shapeviewer.invalid>}"

build_deb=1
for arg in "$@"; do
  case "$arg" in
    --no-deb) build_deb=0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option '$arg' (--no-deb, --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }
start=$(date +%s)
mkdir -p "$DIST" "$WORK"

# ---- wheel and sdist ----------------------------------------------------------------------------------------
step "wheel and sdist"
if [ ! -x "$WORK/buildenv/bin/python" ]; then
  "$PYTHON" -m venv "$WORK/buildenv"
fi
"$WORK/buildenv/bin/python" -m pip install -q --upgrade build
version="$("$WORK/buildenv/bin/python" -c "
import re, sys
text = open(sys.argv[1], encoding='utf-8').read()
print(re.search(r'^__version__ = \"([^\"]+)\"', text, re.M).group(1))" "$ROOT/shapeviewer/__init__.py")"
rm -f "$DIST/shapeviewer-$version.tar.gz" "$DIST/shapeviewer-$version-py3-none-any.whl"
# The sdist first, then the wheel from the sdist: a file missing from the sdist breaks the wheel here.
"$WORK/buildenv/bin/python" -m build --outdir "$DIST" "$ROOT"
wheel="$DIST/shapeviewer-$version-py3-none-any.whl"
test -f "$wheel" && test -f "$DIST/shapeviewer-$version.tar.gz"

if [ "$build_deb" = 0 ]; then
  echo "build.sh: wheel and sdist in $DIST ($(( $(date +%s) - start )) s); .deb skipped (--no-deb)"
  exit 0
fi

# ---- .deb: a self-contained environment under /opt/shapeviewer ----------------------------------------------
step ".deb: environment under $PREFIX"
command -v dpkg-deb >/dev/null || { echo "build.sh: dpkg-deb not found (Debian/Ubuntu only)" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "build.sh: $PYTHON not found: apt-get install python3.11 python3.11-venv" >&2; exit 1; }
pyver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
stage="$WORK/deb-root"
rm -rf "$stage"
venv="$stage$PREFIX"
mkdir -p "$(dirname "$venv")"
"$PYTHON" -m venv "$venv"
# The project's pins (CPU torch, PySide6 without the 6.12.0 bug, KeOps) hold in the bundle as in .venv.
# --no-compile: the .pyc files are written below with their installed paths.
"$venv/bin/python" -m pip install -q --no-compile -c "$ROOT/constraints.txt" "$wheel"
"$venv/bin/python" -m pip check
# libigl's wheel carries optional modules under other licences (GPL CGAL, AGPL TetGen, Triangle's
# non-commercial licence) and Embree bindings; shapeviewer imports only its MPL-2.0 core: leave them out.
rm -rf "$venv"/lib/python*/site-packages/igl/{copyleft,triangle,embree}

step ".deb: relocating to $PREFIX"
# The venv was made at $venv; its scripts and pyvenv.cfg name that path. Rewrite it to $PREFIX.
grep -rlI --null -F "$venv" "$venv/bin" "$venv/pyvenv.cfg" | xargs -0 -r sed -i "s|$venv|$PREFIX|g"
rm -f "$venv"/bin/activate.csh "$venv"/bin/activate.fish "$venv"/bin/Activate.ps1
# Byte-code, as the installed files will see it: the user cannot write to /opt, and without .pyc the first
# import of torch/VTK/Qt would compile every module on each start. -s/-p put /opt/... in the code objects.
"$venv/bin/python" -m compileall -q -j 2 -s "$stage" -p / "$venv/lib" >"$WORK/compileall.log" 2>&1 \
  || echo "build.sh: note: compileall skipped some files (see $WORK/compileall.log; test data of dependencies)"
if leftover="$(grep -rlI -F "$stage" "$venv" | head -5)" && [ -n "$leftover" ]; then
  echo "build.sh: the build path is still named in:" >&2
  echo "$leftover" >&2
  exit 1
fi

step ".deb: launcher, desktop entry, icons, metainfo, MIME type"
install -D -m 755 "$ROOT/packaging/deb/shapeviewer.sh" "$stage/usr/bin/shapeviewer"
install -D -m 644 "$ROOT/resources/desktop/$APP_ID.desktop" "$stage/usr/share/applications/$APP_ID.desktop"
install -D -m 644 "$ROOT/resources/desktop/$APP_ID.metainfo.xml" "$stage/usr/share/metainfo/$APP_ID.metainfo.xml"
install -D -m 644 "$ROOT/resources/desktop/$APP_ID.mime.xml" "$stage/usr/share/mime/packages/$APP_ID.xml"
install -D -m 644 "$ROOT/resources/icons/$APP_ID.svg" "$stage/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
for png in "$ROOT"/resources/icons/hicolor/*/apps/"$APP_ID".png; do
  size="$(basename "$(dirname "$(dirname "$png")")")"
  install -D -m 644 "$png" "$stage/usr/share/icons/hicolor/$size/apps/$APP_ID.png"
done
install -D -m 644 "$ROOT/packaging/deb/copyright" "$stage/usr/share/doc/shapeviewer/copyright"

step ".deb: control files"
mkdir -p "$stage/DEBIAN"
install -m 755 "$ROOT/packaging/deb/postrm" "$stage/DEBIAN/postrm"
installed_kb="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
deb_version="$version-1"
# Depends (packaging/deb/control.in): the libraries that Qt's xcb platform plugin, Qt itself (GLib) and VTK's
# OpenGL load from the system (scripts/setup.sh's list for .venv, checked with ldd against the bundle), and
# g++ with python$pyver-dev: KeOps compiles its formulas on first use against Python's headers.
sed -e "s|@VERSION@|$deb_version|" -e "s|@MAINTAINER@|$MAINTAINER|" -e "s|@INSTALLED_SIZE@|$installed_kb|" -e "s|@PYVER@|$pyver|g" \
  "$ROOT/packaging/deb/control.in" >"$stage/DEBIAN/control"

step ".deb: dpkg-deb"
deb="$DIST/shapeviewer_${deb_version}_amd64.deb"
rm -f "$deb"
# zstd: as small as xz -6 within a few percent for this payload (mostly shared libraries) and several times
# faster to pack and unpack; dpkg reads it since 1.21.18 (Debian 12, Ubuntu 21.10).
dpkg-deb --root-owner-group -Zzstd -b "$stage" "$deb"
dpkg-deb --info "$deb" | sed -n '1,4p'
echo "build.sh: $deb: $(du -h "$deb" | cut -f1) ($(( installed_kb / 1024 )) MiB installed) in $(( $(date +%s) - start )) s"
