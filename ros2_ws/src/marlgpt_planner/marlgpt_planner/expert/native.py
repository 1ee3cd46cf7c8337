"""Build and load the expert's C++ library from this directory's own source.

The library is compiled with the system's g++ on first use and kept in ``_build/`` beside
the source (or, where the package is installed read-only, in ``$MARLGPT_CACHE`` or
``~/.cache/marlgpt``) under a name that carries the source's hash, so an edited source is
rebuilt and concurrent workers never load a half-written file (each compiles to a temporary
name and renames it).
"""
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "pibt.cpp"
BUILD_DIR = HERE / "_build"
CXXFLAGS = ["-O3", "-std=c++17", "-shared", "-fPIC", "-Wall", "-Wextra"]

_LIBRARY = None


def build_dir() -> Path:
    """Where the library is kept: ``_build/`` beside the source when that can be written,
    else a cache directory."""
    if os.access(HERE, os.W_OK):
        return BUILD_DIR
    cache = os.environ.get("MARLGPT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                             "marlgpt")
    return Path(cache) / "expert"


def library_path() -> Path:
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(CXXFLAGS).encode()).hexdigest()[:16]
    return build_dir() / f"libmarlgpt_pibt-{digest}.so"


def build() -> Path:
    """Compile the library if this source has not been built yet; return its path."""
    target = library_path()
    if target.exists():
        return target
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"the expert needs a C++ compiler: {compiler} not found "
                           "(apt-get install g++)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        result = subprocess.run([compiler, *CXXFLAGS, "-o", tmp, str(SOURCE)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"compiling {SOURCE} failed:\n{result.stderr}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def load() -> ctypes.CDLL:
    """The loaded library, with its function signatures declared."""
    global _LIBRARY
    if _LIBRARY is None:
        lib = ctypes.CDLL(str(build()))
        i32, ptr = ctypes.c_int32, ctypes.c_void_p
        lib.mg_expert_new.restype = ptr
        lib.mg_expert_new.argtypes = [i32, i32, ptr, ctypes.c_uint64, i32]
        lib.mg_expert_free.restype = None
        lib.mg_expert_free.argtypes = [ptr]
        lib.mg_expert_step.restype = i32
        lib.mg_expert_step.argtypes = [ptr, i32, ptr, ptr, ptr]
        lib.mg_expert_resume.restype = None
        lib.mg_expert_resume.argtypes = [ptr, i32, ptr, ptr]
        lib.mg_expert_set_search.restype = None
        lib.mg_expert_set_search.argtypes = [ptr, i32, i32, ctypes.c_double]
        lib.mg_expert_set_lns.restype = None
        lib.mg_expert_set_lns.argtypes = [ptr, i32, i32, i32]
        lib.mg_expert_distances.restype = None
        lib.mg_expert_distances.argtypes = [ptr, i32, ptr]
        _LIBRARY = lib
    return _LIBRARY
