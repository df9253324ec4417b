"""The autopilot's look at crossing traffic (rllib_integration.evaluation.yielding): where the hero stands on a
crossing vehicle's way, any part of it, it goes on across rather than stop there."""

from __future__ import annotations

import math

import carla
import numpy as np
import pytest

from rllib_integration.evaluation.yielding import body_on_its_way

EXTENT = carla.Vector3D(2.4, 1.0, 0.8)
STEPS = np.arange(0.0, 4.01, 0.25)


def hero_at(x: float, y: float, yaw: float) -> carla.Transform:
    return carla.Transform(carla.Location(x, y, 0.0), carla.Rotation(yaw=yaw))


@pytest.mark.parametrize("y, on", [(2.4 + 1.1, True), (2.4 + 1.3, False), (0.0, True), (-2.4 - 1.1, True),
                                   (-2.4 - 1.3, False)])
def test_a_way_across_the_footprint_or_within_the_half_width_of_it_is_on_it(y, on):
    xs, ys = 20.0 - 10.0 * STEPS, np.full_like(STEPS, y)  # a car coming down the line y from x = 20 at 10 m/s
    # the hero faces +y (yaw 90): it spans y -2.4 .. 2.4 (front to back) and x -1 .. 1
    assert body_on_its_way(hero_at(0.0, 0.0, 90.0), EXTENT, xs, ys, 1.2) is on


def test_the_middle_of_the_front_counts_where_no_corner_is_on_the_way():
    """Traced in CrossingBicycleFlow: the hero turning across a biking lane stopped with the middle of its front on
    the bicycles' way and both front corners beside it, and a bicycle rode into it."""
    xs, ys = -30.0 + 7.9 * STEPS, np.full_like(STEPS, 4.2)  # a bicycle along the biking lane
    hero = hero_at(2.25, 2.6, 140.0)  # front centre about (0.41, 4.14); corners about (-0.23, 3.37), (1.05, 4.91)
    assert body_on_its_way(hero, EXTENT, xs, ys, 0.65)


def test_the_rear_on_the_way_counts_and_a_way_ahead_of_the_front_does_not():
    xs, ys = 20.0 - 10.0 * STEPS, np.full_like(STEPS, -2.0)  # across the hero's rear (it faces +y)
    assert body_on_its_way(hero_at(0.0, 0.0, 90.0), EXTENT, xs, ys, 0.65)
    xs, ys = 20.0 - 10.0 * STEPS, np.full_like(STEPS, 5.0)  # 2.6 m past its front
    assert not body_on_its_way(hero_at(0.0, 0.0, 90.0), EXTENT, xs, ys, 0.65)


def test_the_way_a_vehicle_has_left_behind_does_not_count():
    xs, ys = -5.0 - 10.0 * STEPS, np.zeros_like(STEPS)  # past the hero already, driving away
    assert not body_on_its_way(hero_at(0.0, 0.0, 90.0), EXTENT, xs, ys, 1.2)
    standing = np.full(3, 0.5), np.full(3, 3.0)  # a vehicle standing (its predicted centres do not move) at the front
    assert body_on_its_way(hero_at(0.0, 0.0, 90.0), EXTENT, *standing, 0.7)
    assert not body_on_its_way(hero_at(0.0, 0.0, 90.0), EXTENT, *standing, 0.5)


def test_a_corner_near_the_way_is_measured_not_boxed():
    """Traced in CrossingBicycleFlow: the hero waiting turned towards the biking lane has its nearest corner 1.0 m from
    the bicycles' way, farther than their half width and margin (0.73 m); a footprint grown as a box would have
    reached the way and sent the hero across in front of a bicycle."""
    xs, ys = -24.7 + 7.9 * STEPS, np.full_like(STEPS, 4.3)
    assert not body_on_its_way(hero_at(3.9, 1.2, 149.0), EXTENT, xs, ys, 0.733)
    assert body_on_its_way(hero_at(3.9, 1.2, 149.0), EXTENT, xs, ys, 1.05)


def test_a_rider_conflicts_only_while_the_hero_would_be_in_its_way_and_the_first_point_is_where_the_hero_enters_it():
    from rllib_integration.evaluation.yielding import crosses_in_time, speed_profile
    # the hero's path: straight up +y from (0, 0) across a biking lane along y = 10 (a rider going +x at 8 m/s)
    points = np.stack([np.zeros(40), np.arange(40.0)], axis=1)
    headings = np.full(40, 90.0)
    arrival, _ = speed_profile(np.arange(40.0), headings, 0.0)  # the hero standing: about 2.2 s to the lane, 3 s past it
    rider = carla.Vector3D(0.75, 0.43, 0.8)
    velocity = carla.Vector3D(8.0, 0.0, 0.0)
    far = crosses_in_time(points, headings, arrival, EXTENT, carla.Location(-60.0, 10.0), velocity, rider, 6.0)
    assert far is None, "7 s away: past the horizon, and the hero is across before it comes"
    near = crosses_in_time(points, headings, arrival, EXTENT, carla.Location(-20.0, 10.0), velocity, rider, 6.0)
    assert near == 7, "2.5 s away: in the way as the hero crosses; the hero's front would enter its way 7 m on"
    passed = crosses_in_time(points, headings, arrival, EXTENT, carla.Location(5.0, 10.0), velocity, rider, 6.0)
    assert passed is None, "past the hero's path already"
    along = crosses_in_time(points, headings, arrival, EXTENT, carla.Location(0.0, -20.0), carla.Vector3D(0.0, 8.0, 0.0),
                            rider, 6.0)
    assert along is None, "riding the hero's way: a follower, not a crossing"


def test_the_hero_is_predicted_through_a_turn_at_the_turns_pace():
    """Predicted at full pace through its turn, the hero found a crossing vehicle only once inside the junction, where
    it then stood in that vehicle's way: it is now predicted no faster than TURN_ACCELERATION allows on the radius."""
    from rllib_integration.evaluation.yielding import CRUISE, TURN_ACCELERATION, speed_profile
    along = np.arange(40.0)
    straight = np.zeros(40)
    turn = np.concatenate([np.zeros(10), np.linspace(0.0, -90.0, 16), np.full(14, -90.0)])  # 90 degrees over 15 m
    arrival_straight, speeds_straight = speed_profile(along, straight, 6.0)
    arrival_turn, speeds_turn = speed_profile(along, turn, 6.0)
    radius = 15.0 / (math.pi / 2.0)
    assert speeds_straight.max() == pytest.approx(CRUISE)
    assert speeds_turn[12:24].max() == pytest.approx(math.sqrt(TURN_ACCELERATION * radius), rel=0.05)
    assert arrival_turn[:6] == pytest.approx(arrival_straight[:6]) and arrival_turn[-1] > arrival_straight[-1] + 1.0


def test_a_rider_leaves_the_hero_gaps_with_less_time_to_spare_than_a_car():
    # CrossingBicycleFlow: with a second to spare before and after, as for cars, gaps in the bicycles that fitted the
    # crossing were so rare that the hero waited the whole scenario (7 of 32 seeds); 0.6 s passed all 32
    from rllib_integration.evaluation.yielding import RIDER_TIME_GAP, TIME_GAP, crosses_in_time, speed_profile
    points = np.stack([np.zeros(40), np.arange(40.0)], axis=1)
    headings = np.full(40, 90.0)
    arrival, _ = speed_profile(np.arange(40.0), headings, 0.0)
    rider, velocity = carla.Vector3D(0.75, 0.43, 0.8), carla.Vector3D(8.0, 0.0, 0.0)

    def blocks(x: float, gap: float) -> bool:
        return crosses_in_time(points, headings, arrival, EXTENT, carla.Location(x, 10.0), velocity, rider, 6.0,
                               gap) is not None
    assert RIDER_TIME_GAP < TIME_GAP
    for x in (-38.0, -12.0):  # the hero crosses ahead of the first, just after the second
        assert blocks(x, TIME_GAP) and not blocks(x, RIDER_TIME_GAP)
    assert blocks(-25.0, RIDER_TIME_GAP), "one coming as the hero crosses still blocks"
