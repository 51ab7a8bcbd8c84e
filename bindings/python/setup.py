"""Bundles libmanako.so into the package when one is available.

Order: $MANAKO_LIBRARY, then the repository's release build (built with scripts/build,
which this runs when the library is missing and the package sits in a Manako checkout).
Without either, the package still installs and finds the library at run time.
"""
import os
import pathlib
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        library = os.environ.get("MANAKO_LIBRARY")
        built = REPO / ".build/static/release/libManakoC.so"
        if not library and (REPO / "Package.swift").exists():
            if not built.exists() and os.environ.get("MANAKO_SKIP_BUILD") != "1":
                subprocess.run(["bash", str(REPO / "scripts/build")], check=True)
            if built.exists():
                library = str(built)
        if library:
            target = pathlib.Path(self.build_lib) / "manako" / "libmanako.so"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(library, target)


setup(cmdclass={"build_py": BuildWithLibrary})
