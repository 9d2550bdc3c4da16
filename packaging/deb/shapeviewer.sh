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
# The desktop entry runs 'shapeviewer %f': the command line opens a lone FILE.svsession in the app.
exec "$APP/bin/shapeviewer" "$@"
