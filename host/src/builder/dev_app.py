"""`pier dev`'s Python interpreter: the SDK and the standard library, snapshotted when
the interpreter is built; the plugin's `server.py` is imported from the folder pier
grants at `/pier-dev/src`, at the first call of each instance."""

import sys

from pier_sdk import _component
from pier_sdk._component import Plugin  # noqa: F401

# Modules that cannot run in a component, that act when imported (`this` prints,
# `antigravity` opens a browser), or that only test CPython itself.
_SKIP = {
    "__phello__", "_pyrepl", "antigravity", "this", "idlelib", "test", "turtle", "turtledemo",
    "tkinter", "_tkinter", "ensurepip", "venv", "lib2to3", "pydoc", "pydoc_data", "webbrowser",
    "multiprocessing", "concurrent", "ctypes", "_ctypes", "sqlite3", "_sqlite3", "curses",
    "_curses", "_curses_panel", "readline", "dbm", "tty", "pty", "msvcrt", "winreg", "winsound",
    "_winapi", "nt", "nturl2path", "_overlapped", "_msi", "msilib", "xxlimited", "xxlimited_35",
    "xxsubtype", "_ctypes_test", "_xxtestfuzz",
}

# A component finds only the modules imported while it was built: import every other
# standard module now, so that a plugin's server imports what a built one could.
for _name in sorted(sys.stdlib_module_names):
    if _name in _SKIP or _name.startswith("_test") or _name in sys.modules:
        continue
    try:
        __import__(_name)
    except BaseException:  # noqa: BLE001 - a module that cannot load here is left out
        pass

_component.source = "/pier-dev/src"
