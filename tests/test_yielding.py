"""The autopilot's look at crossing traffic (rllib_integration.evaluation.yielding): where the hero's front stands
on a crossing vehicle's way, it goes on across rather than stop there."""

from __future__ import annotations

import carla
import numpy as np

from rllib_integration.evaluation.yielding import front_corners, front_on_its_way


def test_front_corners_follow_carlas_axes():
    corners = front_corners(carla.Transform(carla.Location(10.0, 5.0, 0.0), carla.Rotation(yaw=90.0)),
                            carla.Vector3D(2.4, 1.0, 0.8))
    # facing +y (yaw 90): the front is 2.4 m towards +y, the left corner towards +x (CARLA's left-handed frame)
    np.testing.assert_allclose(corners, [[11.0, 7.4], [9.0, 7.4]], atol=1e-6)


def test_a_front_on_a_crossing_vehicles_way_is_on_it_and_one_beside_it_is_not():
    steps = np.arange(0.0, 4.01, 0.25)
    xs, ys = 20.0 - 10.0 * steps, np.zeros_like(steps)  # a car coming down y = 0 from x = 20 at 10 m/s
    on_its_lane = np.array([[2.4, -0.5], [2.4, 1.5]])
    beside_its_lane = np.array([[2.4, 2.0], [2.4, 4.0]])
    assert front_on_its_way(on_its_lane, xs, ys, 1.2)
    assert not front_on_its_way(beside_its_lane, xs, ys, 1.2)


def test_the_way_a_vehicle_has_left_behind_does_not_count():
    steps = np.arange(0.0, 4.01, 0.25)
    xs, ys = -5.0 - 10.0 * steps, np.zeros_like(steps)  # past the hero already, driving away
    assert not front_on_its_way(np.array([[2.4, -0.5], [2.4, 1.5]]), xs, ys, 1.2)
