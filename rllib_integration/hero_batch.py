"""What a batched experiment reads of its heroes every frame, as arrays over the heroes of one world.

:func:`read_kinematics` gives each hero's location, heading, velocity, speed limit and whether a red light affects
it: on the embedded world in one call (``world.vehicle_kinematics``, which reads the vehicle table), on a CARLA
server hero by hero through the carla API (the same numbers, one request each).

The values are those the per-hero getters give (``get_transform``, ``get_velocity``, ``get_speed_limit``,
``get_traffic_light_state`` / ``is_at_traffic_light``), rounded as CARLA's client rounds them: its ``Location``,
``Rotation`` and ``Vector3D`` hold 32-bit floats. So an experiment computed from these arrays gives what the same
experiment computed hero by hero gives, to the last bit where it does the same arithmetic.
"""

from __future__ import annotations

from typing import Any, Sequence

import carla
import numpy as np
from numba import njit

#: The columns of :func:`read_kinematics`.
KINEMATICS = ("x", "y", "z", "yaw", "vx", "vy", "vz", "speed_limit", "red_light")
X, Y, Z, YAW, VX, VY, VZ, SPEED_LIMIT, RED_LIGHT = range(len(KINEMATICS))


def read_kinematics(world: Any, heroes: Sequence[Any], ids: Sequence[int] | None = None) -> np.ndarray:
    """(N, 9) float64 rows of :data:`KINEMATICS` for ``heroes`` (actors of ``world``; ``ids``: their ids, where the
    caller has them) at the current frame: metres, degrees, m/s, km/h, 1.0 for a red light; the pose and velocity
    rounded to 32-bit floats as carla's types hold them."""
    fast = getattr(world, "vehicle_kinematics", None)  # the embedded world: the vehicle table in one read
    if callable(fast):
        rows = np.asarray(fast([hero.id for hero in heroes] if ids is None else ids),
                          dtype=np.float64).reshape(-1, len(KINEMATICS))
    else:
        rows = np.array([_one(hero) for hero in heroes], dtype=np.float64).reshape(-1, len(KINEMATICS))
    rows[:, :SPEED_LIMIT] = rows[:, :SPEED_LIMIT].astype(np.float32)
    return rows


def _one(hero: Any) -> tuple[float, ...]:
    t, v = hero.get_transform(), hero.get_velocity()
    red = hero.get_traffic_light_state() == carla.TrafficLightState.Red and hero.is_at_traffic_light()
    return (t.location.x, t.location.y, t.location.z, t.rotation.yaw, v.x, v.y, v.z, hero.get_speed_limit(),
            float(red))


def speeds(rows: np.ndarray) -> np.ndarray:
    """Each hero's speed (m/s) as ``carla.Vector3D.length()`` gives it (32-bit arithmetic)."""
    out = np.empty(len(rows))
    _lengths32(rows, out)
    return out


@njit(cache=True)
def _lengths32(rows: np.ndarray, out: np.ndarray) -> None:
    """``out[r]``: the length of row ``r``'s velocity in 32-bit floats, ``sqrt((x * x + y * y) + z * z)`` as
    ``carla.Vector3D.length()`` sums it (and NumPy's float32 sum of the three squares: the same bits on 2,000,000
    random velocities, measured)."""
    for r in range(rows.shape[0]):
        x, y, z = np.float32(rows[r, VX]), np.float32(rows[r, VY]), np.float32(rows[r, VZ])
        out[r] = np.sqrt((x * x + y * y) + z * z)
