"""Events on the hero's own lane: the traffic ahead braking hard (Leaderboard 2.0's ``HardBreakRoute``, which
the Leaderboard plays with its background traffic's vehicles ahead; without a background activity a car of the
scenario's own does it) and debris that takes the hero's control for a
moment (``ControlLoss``, as ScenarioRunner's ``control_loss.py``: debris 14, 48 and 74 m past the trigger
point, and noise on the hero's throttle and steering from each piece for :data:`NOISE_METRES`)."""

from __future__ import annotations

import carla

from .base import RUNNING, Scenario, forward
from .driving import follow_lane

LEAD_GAP = 25.0  # metres past the trigger point the braking car waits
LEAD_SPEED = 8.0  # m/s it drives at
BRAKE_AFTER, BRAKE_FOR = 6.0, 4.0  # seconds of driving before the hard brake, seconds braking
HARD_BREAK_END = 120.0  # route metres past the trigger point the scenario ends
STOP_DURATION, DRIVE_AFTER = 10.0, 15.0  # with a background: seconds its vehicles ahead stand, metres driven after

DEBRIS = ((14.0, -0.6), (48.0, 0.8), (74.0, 0.2))  # metres past the trigger point, share of half a lane aside
NOISE_METRES = 10.0  # metres past each piece of debris the hero's control is noisy
THROTTLE_NOISE, STEER_NOISE = (0.03, 0.01), (0.055, 0.015)  # mean, standard deviation
CONTROL_LOSS_END = 110.0


class HardBreakRoute(Scenario):
    """With the route's background activity, as ScenarioRunner's ``hard_break.py``: its vehicles ahead of the hero
    stop when the hero reaches the trigger point, stand :data:`STOP_DURATION` s and drive on; the scenario ends
    :data:`DRIVE_AFTER` m later. Without one, a car waits :data:`LEAD_GAP` m ahead on the hero's lane, drives off
    when the hero reaches the trigger point, brakes as hard as it can after :data:`BRAKE_AFTER` s for
    :data:`BRAKE_FOR` s, and drives on."""

    def build(self) -> float:
        self.lead = None
        self.restarted_at: float | None = None
        if self.background is not None:
            return HARD_BREAK_END
        self.lane = forward(self.trigger_waypoint(), LEAD_GAP, stop_at_junction=False)
        transform = self.lane.transform
        self.lead = self.spawn("vehicle.*", carla.Transform(transform.location + carla.Location(z=0.5),
                                                            transform.rotation))
        self.lead.apply_control(carla.VehicleControl(brake=1.0))
        return HARD_BREAK_END

    def make_room(self, background) -> None:
        background.stop_front_vehicles()

    def tick(self, now: float) -> None:
        if self.background is not None:
            if self.restarted_at is None and now - self.started_at >= STOP_DURATION:
                self.background.start_front_vehicles()
                self.restarted_at = self.progress.completed
            elif self.restarted_at is not None and self.progress.completed - self.restarted_at >= DRIVE_AFTER:
                self.end_index = self.progress.index
            return
        if not self.lead.is_alive:
            return
        driving = now - self.started_at
        if BRAKE_AFTER <= driving < BRAKE_AFTER + BRAKE_FOR:
            self.lead.apply_control(carla.VehicleControl(brake=1.0))
        else:
            self.lead.apply_control(follow_lane(self.map, self.lead, LEAD_SPEED))


class ControlLoss(Scenario):
    """Debris on the lane; past each piece the hero's control gets noise (on controls the agent returns: an
    agent that leaves the driving to the traffic manager is not perturbed)."""

    def build(self) -> float:
        start = self.trigger_waypoint()
        self.noisy_from = []
        for metres, share in DEBRIS:
            waypoint = forward(start, metres)
            right = waypoint.transform.get_right_vector()
            offset = share * waypoint.lane_width / 2.0
            location = waypoint.transform.location + carla.Location(x=offset * right.x, y=offset * right.y, z=0.02)
            self.spawn("static.prop.dirtdebris01", carla.Transform(location, waypoint.transform.rotation),
                       role="prop", physics=False)
            self.noisy_from.append(self.progress.nearest_index(location))
        sign = lambda: 1.0 if self.rng.random() < 0.5 else -1.0  # noqa: E731 - the mean's side, per piece
        self.noise = [(sign() * THROTTLE_NOISE[0], sign() * STEER_NOISE[0]) for _ in DEBRIS]
        return CONTROL_LOSS_END

    def perturb(self, control: carla.VehicleControl) -> carla.VehicleControl:
        if self.state != RUNNING:
            return control
        for start, (throttle_mean, steer_mean) in zip(self.noisy_from, self.noise):
            if 0.0 <= self.progress.distance_between(start, self.progress.index) <= NOISE_METRES:
                return carla.VehicleControl(
                    throttle=float(min(1.0, max(0.0, control.throttle + self.rng.normal(throttle_mean, THROTTLE_NOISE[1])))),
                    steer=float(min(1.0, max(-1.0, control.steer + self.rng.normal(steer_mean, STEER_NOISE[1])))),
                    brake=control.brake, hand_brake=control.hand_brake, reverse=control.reverse)
        return control
