"""The library knows when its numba kernels still have to be compiled (the training scripts say so before the
half-minute it takes; the test session compiles them once before its workers start)."""

import os
import pathlib

from rllib_integration.common.kernel_cache import cold_kernel_modules


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
    from rllib_integration.common.kernel_cache import CACHED_KERNEL, PACKAGE
    assert PACKAGE == pathlib.Path(rllib_integration.__file__).resolve().parent
    with_kernels = {p.name for p in PACKAGE.rglob("*.py") if CACHED_KERNEL.search(p.read_text(encoding="utf-8"))}
    assert {"vehicle_kernel.py", "ray_march.py", "lane_index.py", "autopilot.py"} <= with_kernels
