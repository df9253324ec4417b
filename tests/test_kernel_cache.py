"""The library knows when its numba kernels still have to be compiled (the test session compiles them once before
its workers start), and says so as it happens (the scripts, rather than stay silent for the half minute it takes)."""

import os
import pathlib
import subprocess
import sys
import textwrap

from warm_kernels import cold_kernel_modules


def test_a_module_is_cold_until_its_kernels_are_cached_and_again_once_it_changes(tmp_path):
    kernels = tmp_path / "kernels.py"
    kernels.write_text("from numba import njit\n\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    (tmp_path / "plain.py").write_text("# mentions cache=True in a comment only\nVALUE = 1\n")
    assert cold_kernel_modules(tmp_path) == [kernels], "no cache yet: cold; a module without kernels never is"
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    index = cache / "kernels.twice-4.py311.nbi"
    index.write_bytes(b"")
    os.utime(index, (kernels.stat().st_mtime + 10,) * 2)
    assert cold_kernel_modules(tmp_path) == []
    os.utime(kernels, (index.stat().st_mtime + 10,) * 2)  # the module changed after its kernels were cached
    assert cold_kernel_modules(tmp_path) == [kernels]


def test_the_librarys_kernels_are_found():
    import rllib_integration
    from warm_kernels import CACHED_KERNEL, PACKAGE
    assert PACKAGE == pathlib.Path(rllib_integration.__file__).resolve().parent
    with_kernels = {p.name for p in PACKAGE.rglob("*.py") if CACHED_KERNEL.search(p.read_text(encoding="utf-8"))}
    assert {"vehicle_kernel.py", "ray_march.py", "lane_index.py", "autopilot.py"} <= with_kernels


def test_the_notice_comes_once_as_a_kernel_compiles_and_never_where_the_cache_has_them(tmp_path):
    (tmp_path / "kernels_here.py").write_text("from numba import njit\n\n\n@njit(cache=True)\ndef twice(x):\n"
                                              "    return 2 * x\n")
    program = textwrap.dedent("""
        import numba
        from rllib_integration.common.kernel_cache import compile_notice
        import kernels_here

        @numba.njit
        def elsewhere(x):
            return x + 1

        with compile_notice(lambda: print("compiling"), package="kernels_here"):
            elsewhere(1)  # another package's kernel: no notice
            kernels_here.twice(1)
            kernels_here.twice(1.5)  # a second signature: still one notice
        kernels_here.twice(2j)  # outside the block: none
    """)

    def run() -> list[str]:
        result = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()
    assert run() == ["compiling"]
    assert run() == [], "every kernel loads from the disk cache: nothing to say"
