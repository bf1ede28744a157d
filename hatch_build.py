"""Build hook: compile the ledger's native hashing module next to its Python fallback.

`mamori.ledger._native` (src/mamori/ledger/_native.c and the parts it includes from
src/mamori/ledger/native/; C11 with no library beyond Python's) hashes events, blocks
and Merkle trees for the ledger. It is compiled with the C compiler Python was built
with; when that fails the build goes on and mamori uses the pure-Python code in
`mamori.ledger.hashing`, which gives the same bytes, only slower (the test suite insists
on the native module, so CI notices).

Editable installs (`uv sync`) put the compiled file into the source tree, where the
editable path finds it; wheels carry it as a platform file.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/mamori/ledger/_native.c")
FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"]


def compile_native(root: Path) -> Path | None:
    """Compile the module in place; the file made, or None (with a warning) on failure."""
    source = root / SOURCE
    target = source.with_name("_native" + str(sysconfig.get_config_var("EXT_SUFFIX")))
    compiler = shlex.split(str(sysconfig.get_config_var("CC") or "cc"))
    command = [
        *compiler,
        *FLAGS,
        "-fPIC",
        "-shared",
        f"-I{sysconfig.get_paths()['include']}",
        str(source),
        "-o",
        str(target),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(
            f"mamori: the native ledger module was not built ({detail.strip()});"
            " the pure-Python hashing is used",
            file=sys.stderr,
        )
        return None
    return target


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles `_native.c` for every build, editable or wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        built = compile_native(Path(self.root))
        if built is None or version == "editable":
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"][str(built)] = f"mamori/ledger/{built.name}"
