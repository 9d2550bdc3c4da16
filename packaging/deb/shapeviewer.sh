#!/bin/sh
# /usr/bin/shapeviewer, installed by the shapeviewer .deb: runs the app from its own environment in
# /opt/shapeviewer (Python packages from PyPI, the system's python3.11). Same arguments as 'shapeviewer --help'.
APP=/opt/shapeviewer
if [ ! -x "$APP/bin/python" ]; then
  echo "shapeviewer: $APP is missing or broken: reinstall the shapeviewer package" >&2
  exit 1
fi
# VTK's render window draws with GLX on X11; pyvistaqt does not support Qt's Wayland plugin, which Qt would pick
# in a Wayland session: use XWayland there unless the user chose a platform.
if [ -n "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  export QT_QPA_PLATFORM=xcb
fi
# The desktop entry runs 'shapeviewer %f': a lone .svsession (a double-clicked session file) opens in the app.
# The command line itself has no argument for a session yet, so this calls the app's own entry point for it.
if [ "$#" -eq 1 ] && [ -f "$1" ]; then
  case "$1" in
    *.svsession | *.SVSESSION)
      exec "$APP/bin/python" -c 'import sys
from pathlib import Path
from shapeviewer.qt.app import run_gui
sys.exit(run_gui(session=Path(sys.argv[1]).resolve()))' "$1"
      ;;
  esac
fi
exec "$APP/bin/shapeviewer" "$@"
