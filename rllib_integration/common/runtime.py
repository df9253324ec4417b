"""The per-user runtime folder: port reservations, the launched servers' registry and their logs.

``$RLLIB_INTEGRATION_RUNTIME`` if set, else ``$XDG_RUNTIME_DIR/rllib-integration-carla``, else
``<tmp>/rllib-integration-carla-<uid>``: private to the user (mode 0700), and not named like the
package, so a script started in the temporary folder still imports the installed library.
"""

from __future__ import annotations

import os
import tempfile

NAME = "rllib-integration-carla"


def runtime_dir(*parts: str) -> str:
    """The runtime folder (created, owner-only), or a sub-folder of it."""
    root = os.environ.get("RLLIB_INTEGRATION_RUNTIME")
    if not root:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        root = os.path.join(xdg, NAME) if xdg and os.path.isdir(xdg) else \
            os.path.join(tempfile.gettempdir(), f"{NAME}-{os.getuid()}")
    path = os.path.join(root, *parts)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
