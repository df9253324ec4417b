"""The autopilot behind the embedded traffic manager: plans every autopilot vehicle's control.

One :class:`AutopilotPlanner` serves one traffic manager (one port). Ten times per simulated second
(controls are held in between), before physics, each autopilot vehicle gets a ``VehicleControl``:

- **Route** (:mod:`.routes`): waypoints every 2 m along its lane, at least 40 m ahead; forks chosen
  by ``set_route``, ``set_path`` or the manager's RNG (``set_random_device_seed``).
- **Lane changes** (:mod:`.lane_changes`): forced, overtaking, keep right, random.
- **Junctions** (:mod:`.junctions`): lights, stop signs, right of way, never blocking a junction.
- **Speed**: the road's speed limit lowered by the speed difference percentage (CARLA's default
  30 %), or ``set_desired_speed``; slower in curves.
- **Car following**: the Intelligent Driver Model towards the nearest vehicle or walker on the route
  ahead (``distance_to_leading_vehicle`` is its standstill gap; ``ignore_vehicles_percentage``,
  ``ignore_walkers_percentage`` and ``collision_detection`` leave some out), vectorised over all pairs;
  a vehicle or walker that touched the front half of a vehicle stops it, wherever it came from, until
  they are apart (a bus never shoves a car it swept into; two vehicles nose to nose wait for the
  gridlock breaker).
- **Steering**: pure pursuit (from midway between the axles) of a route point 4-15 m ahead (further
  at speed and while changing lanes), ``vehicle_lane_offset`` / ``global_lane_offset`` metres right of the lane centre.
- **Lights** (:mod:`.vehicle_lights`) for the vehicles with ``update_vehicle_lights``.
- **Gridlock** (:mod:`.gridlock`): a vehicle stuck 30 s in a wait that goes nowhere is moved.

Hybrid physics and dormant-vehicle respawning are :mod:`.hybrid`'s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import carla
import numpy as np
from numba import njit

from ...common.formats import GRAVITY
from ...common.lane_geometry import DrivableLanes
from ..sim.dynamics import COLUMN, clamp
from ..sim.geometry import penetration
from . import hybrid, lane_changes
from .autopilot_state import AutopilotState
from .crossing import CrossingTraffic
from .gridlock import GridlockBreaker
from .junctions import JunctionControl
from .leaders import nearest_leaders
from .routes import ROUTE_POINTS, ROUTE_STEP, lane_at
from .vehicle_lights import light_state

if TYPE_CHECKING:
    from ..sim.kernel import Simulation

SAMPLES = np.arange(0, 16)  # route indices sampled for the leader search (every 2 m, 0-30 m)
IDM_ACCEL, IDM_DECEL, IDM_HEADWAY, LATERAL_ACCEL = 2.0, 3.0, 1.2, 1.5
PLANNING_PERIOD = 0.1  # seconds of simulation between two plans (10 Hz); controls are held in between
COASTING = 0.5  # m/s² a vehicle loses with the throttle closed (rolling, drag, engine braking)
HALTED_CRUISE = 0.05  # m/s: a vehicle whose cruise speed is below this is told to stand (it brakes and holds)
LONG_VEHICLE = 3.2  # half length, m: vans, trucks and buses turn differently
TIGHT_TURN_SPEED = 1.4  # m/s: long vehicles in turns under 10 m radius (below the curb-climbing speed)
MOVING = 0.5  # m/s: faster than this, a vehicle is moving
CONTACT_CLEARANCE = 0.5  # metres: a vehicle that touched another stays stopped until they are this far apart


class AutopilotPlanner:
    """Routes, settings and per-tick control of the vehicles of one traffic manager."""

    def __init__(self, sim: "Simulation", port: int) -> None:
        self.sim, self.port = sim, port
        self.vehicles: dict[int, AutopilotState] = {}
        self.unregistered: dict[int, AutopilotState] = {}  # vehicle id -> the settings given it while not driven
        self.rng = np.random.default_rng()
        self.synchronous = False
        self.hybrid = hybrid.HybridPhysics()
        self.distance = 2.5  # standstill gap, m
        self.speed_difference = 30.0  # percent below the speed limit
        self.lane_offset = 0.0
        self.osm_mode = True  # CARLA's default: vehicles at dead ends are destroyed
        self.junctions = JunctionControl(sim.signals, self.rng)
        self.gridlock = GridlockBreaker()
        self.drivable = DrivableLanes(sim.map)  # the junction connections a car can follow
        self._time = 0.0
        self._since_plan = math.inf  # seconds since the last plan
        self._steps = 0  # simulation steps since the last plan
        self._members: list[AutopilotState] = []  # the autopilots in the order of the rows below
        self._coords = np.zeros((0, ROUTE_POINTS, 2))  # their routes' points
        self._forgotten_for: set[int] = set()  # the vehicles the junctions last forgot all others for
        self._accel_cruise = np.zeros((0, 2))  # their last plan's acceleration (m/s²) and cruise speed (m/s)
        self._touching: dict[int, set[Any]] = {}  # vehicle id -> the actors it touched and is still near
        sim.add_pre_tick_hook(self.tick)

    # -- registration -----------------------------------------------------------------------------
    def state(self, actor: Any) -> AutopilotState:
        """The state of a vehicle: a registered one's, else the settings kept for it until it registers (CARLA's
        traffic manager keeps a vehicle's parameters whether or not it drives it: ScenarioRunner sets some first)."""
        state = self.vehicles.get(actor.id)
        if state is None:
            state = self.unregistered.get(actor.id)
            if state is None:
                state = self.unregistered[actor.id] = AutopilotState(actor)
        return state

    def seed(self, seed: int) -> None:
        self.rng = self.junctions.rng = np.random.default_rng(int(seed))

    def replan_speeds(self) -> None:
        """Forget every cached cruise speed (a global setting changed)."""
        for state in self.vehicles.values():
            state.cruise = None

    def register(self, vehicle: Any) -> None:
        if vehicle.id not in self.vehicles:
            kept = self.unregistered.pop(vehicle.id, None)
            state = self.vehicles[vehicle.id] = AutopilotState(vehicle)
            if kept is not None:
                state.keep_settings(kept)
            state.moved_at = self._time

    def unregister(self, vehicle: Any) -> None:
        state = self.vehicles.pop(vehicle.id, None)
        if state is not None:
            self.junctions.release(state)
            self.hybrid.wake(self.sim, state)
            self.unregistered[vehicle.id] = AutopilotState(vehicle)  # its settings stay, as CARLA's do
            self.unregistered[vehicle.id].keep_settings(state)

    def shut_down(self) -> None:
        """Release every vehicle and stop planning (``TrafficManager.shut_down``)."""
        for state in list(self.vehicles.values()):
            state.vehicle.autopilot_port = None
            self.unregister(state.vehicle)
        self.sim.remove_pre_tick_hook(self.tick)

    # -- per tick ------------------------------------------------------------------------------
    def tick(self, dt: float) -> None:
        """Plan (every :data:`PLANNING_PERIOD` seconds, or for new vehicles) before physics; move the
        vehicles of hybrid mode's far zone."""
        self._time += dt
        self._since_plan += dt
        self._steps += 1
        if not self.vehicles and not self._members:
            return  # nobody to plan for (nor any hybrid-mode vehicle to wake)
        for record in self.sim.collisions:  # the last tick's contacts (hooks run before physics)
            if record.actor.id in self.vehicles and record.other_actor.id != 0:
                self._touching.setdefault(record.actor.id, set()).add(record.other_actor)
        new = any(not state.route.points for state in self.vehicles.values())
        if self._since_plan >= PLANNING_PERIOD - 1e-9 or new:
            self._plan(self._since_plan if math.isfinite(self._since_plan) else dt)
            self._since_plan, self._steps = 0.0, 0
        if self.hybrid.enabled or self.hybrid.respawn:
            # the routes as of the last plan, for the vehicles still registered
            current = [i for i, state in enumerate(self._members) if self.vehicles.get(state.vehicle.id) is state]
            self.hybrid.step(self.sim, [self._members[i] for i in current], self._coords[current],
                             self._accel_cruise[current], self.rng, self.junctions.release, dt)

    def _plan(self, elapsed: float) -> None:
        for actor_id in [i for i, s in self.vehicles.items() if not s.vehicle.is_alive]:
            self.junctions.release(self.vehicles.pop(actor_id))
        if self.vehicles.keys() != self._forgotten_for:  # registrations changed
            self._forgotten_for = set(self.vehicles)
            self.junctions.forget(self._forgotten_for)
        if not self.vehicles:
            return
        states = list(self.vehicles.values())
        slots = np.array([s.vehicle.slot for s in states])
        rows = self.sim.vehicles.data[slots]
        x, y, yaw, speed = (rows[:, COLUMN[k]] for k in ("x", "y", "yaw", "speed"))
        count = len(states)
        if states != self._members:  # registrations changed: rebuild the route array
            for i, state in enumerate(states):
                if not state.route.points:
                    self._follow(state, float(x[i]), float(y[i]), float(yaw[i]))
            self._members = states
            self._coords = np.array([state.route.coords for state in states]).reshape(count, ROUTE_POINTS, 2)
            self._accel_cruise = np.zeros((count, 2))
        coords = self._coords
        # Route upkeep only where needed: a route point passed, or the vehicle off its route.
        c0, c1, c2 = coords[:, 0], coords[:, 1], coords[:, 2]
        passed = (x - c1[:, 0]) * (c2[:, 0] - c1[:, 0]) + (y - c1[:, 1]) * (c2[:, 1] - c1[:, 1]) >= 0.0
        segment = np.maximum(np.hypot(c1[:, 0] - c0[:, 0], c1[:, 1] - c0[:, 1]), 1e-6)
        across = np.abs((x - c0[:, 0]) * (c1[:, 1] - c0[:, 1]) - (y - c0[:, 1]) * (c1[:, 0] - c0[:, 0])) / segment
        far = (x - c0[:, 0]) ** 2 + (y - c0[:, 1]) ** 2 > 6.0 ** 2
        cleared = np.array([not state.route.points for state in states])  # relocated since (gridlock, respawn)
        for i in np.flatnonzero(passed | far | (across > 2.5) | cleared):  # _follow decides exactly
            self._follow(states[i], float(x[i]), float(y[i]), float(yaw[i]))
            coords[i] = states[i].route.array()
        self._change_lanes(states, slots, rows, x, y, yaw, speed, elapsed)
        if self.osm_mode and self._remove_at_dead_ends(states, x, y, speed):
            return  # registrations changed: plan again next tick
        changing = np.array([s.changing_until > self._time for s in states])
        reach = np.where(changing, np.maximum(speed * lane_changes.CHANGE_TIME, 8.0), 4.0 + 0.5 * speed)
        lookahead = clamp((reach / ROUTE_STEP).astype(int), 2, ROUTE_POINTS - 1)
        targets = coords[np.arange(count), lookahead]
        cruise = np.array([s.cruise if s.cruise is not None else self._cruise_speed(s) for s in states])
        gap, leader_speed, leader = self._leaders(states, slots, rows, x, y, yaw, coords[:, SAMPLES])
        stop_gap = self._junction_gaps(states, rows, x, y, speed, coords, gap)
        owners = self.sim.vehicles.owners
        vehicle_count = len(owners)
        for state, g, v, j, xi, yi in zip(states, gap.tolist(), leader_speed.tolist(), leader.tolist(), x.tolist(),
                                          y.tolist()):
            state.leader = (g, v)
            has_leader = g != math.inf
            state.leader_id = owners[j].id if has_leader and j < vehicle_count else None
            ahead = self.vehicles.get(state.leader_id) if state.leader_id is not None else None
            state.leader_stuck = has_leader and v < MOVING and (
                ahead is None and j < vehicle_count or ahead is not None and ahead.route.entry is None
                and ahead.leader[0] > 10.0)
            if (xi - state.anchor[0]) ** 2 + (yi - state.anchor[1]) ** 2 > 1.0:  # moved a metre
                state.anchor, state.moved_at = (xi, yi), self._time
        self._drive(states, slots, rows, x, y, yaw, speed, targets, cruise, gap, leader_speed, stop_gap)
        self._update_lights(states)
        self.gridlock.step(self.sim, self.vehicles, self._time, self.rng, self.junctions.release)

    # -- routes --------------------------------------------------------------------------------
    def _follow(self, state: AutopilotState, x: float, y: float, yaw: float) -> None:
        """Drop passed route points, re-localise if off the route, extend to ROUTE_POINTS."""
        route = state.route
        state.cruise = None
        route.drop_passed(x, y)
        off = route.off_route(x, y)
        if off and state.changing_until > self._time and route.points:  # crossing to the new lane
            x0, y0 = route.coords[0], route.coords[1]
            off = (x - x0) ** 2 + (y - y0) ** 2 > 8.0 ** 2
        if off:
            options, path = route.options, route.path
            route.start(lane_at(self.sim.map, x, y, yaw))
            route.options, route.path = options, path
        route.extend(self.drivable, lambda options: int(self.rng.integers(len(options))))

    def _cruise_speed(self, state: AutopilotState) -> float:
        """Target speed (m/s): limit or desired speed, slowed for the curve ahead and to stop at a dead end."""
        points = state.route.points
        to_end = math.inf
        if state.route.dead_end:  # slow down to stop at the end of the lane
            last = next(k for k in range(len(points)) if points[k][3].id == points[-1][3].id)
            to_end = max((last - 1) * ROUTE_STEP - state.vehicle.bounding_box.extent.x - 1.0, 0.0)
        if state.desired_speed is not None:
            target = state.desired_speed / 3.6
        else:
            difference = self.speed_difference if state.speed_difference is None else state.speed_difference
            target = self.sim.speed_limits.for_road(points[1][3].road_id) / 3.6 * (1.0 - difference / 100.0)
        long = state.vehicle.bounding_box.extent.x > LONG_VEHICLE
        for end in (4, 7, len(points) - 1):  # the sharpest curve over the next 6, 12 and 40 m
            turn = abs((points[end][2] - points[1][2] + math.pi) % (2 * math.pi) - math.pi)
            if turn > 0.05:
                radius = ROUTE_STEP * (end - 1) / turn
                target = min(target, math.sqrt(LATERAL_ACCEL * radius))
                if long and radius < 10.0 and end < 7:
                    target = min(target, TIGHT_TURN_SPEED)
        state.cruise = max(min(target, math.sqrt(2.0 * COASTING * 2.0 * to_end)), 0.0)
        return state.cruise

    # -- lane changes --------------------------------------------------------------------------
    def _change_lanes(self, states, slots, rows, x, y, yaw, speed, elapsed) -> None:
        table = self.sim.vehicles
        others = None
        for i, state in enumerate(states):
            route = state.route
            if route.points[0][3].is_junction or route.points[1][3].is_junction:
                continue
            if route.entry is not None and state.forced_change is None and route.entry * ROUTE_STEP < 20.0:
                continue
            cruise = state.cruise if state.cruise is not None else self._cruise_speed(state)
            sides = lane_changes.decide(state, self._time, max(self._steps, 1), self.rng, state.leader[0],
                                        state.leader[1], float(speed[i]), cruise)
            for right in sides:
                target = lane_changes.neighbour(route.points[1][3], right)
                if target is None or route.dead_end and not lane_changes.continues(target):
                    continue
                if state.forced_change is None:
                    if others is None:
                        others = np.column_stack([table.column("x"), table.column("y"), table.column("speed"),
                                                  table.column("half_length"), np.arange(table.count)])
                    if not lane_changes.is_free(others, float(x[i]), float(y[i]), float(yaw[i]), float(speed[i]),
                                                target, int(slots[i])):
                        continue
                options, path = route.options, route.path
                route.start(target)
                route.options, route.path = options, path
                route.extend(self.drivable, lambda choices: int(self.rng.integers(len(choices))))
                self._coords[i] = route.array()
                state.cruise, state.slow_since = None, None
                state.changed_at = self._time
                state.changing_until = self._time + lane_changes.CHANGE_TIME + 1.0
                state.change_side = "ChangeLaneRight" if right else "ChangeLaneLeft"
                break
            state.forced_change = None

    def _remove_at_dead_ends(self, states, x, y, speed) -> bool:
        """OSM mode (CARLA's default): a vehicle standing at the end of a lane that goes nowhere is
        destroyed, as CARLA's traffic manager does."""
        removed = False
        for i, state in enumerate(states):
            route = state.route
            if not route.dead_end or speed[i] >= 2.0:
                continue
            ex, ey, eyaw, _ = route.points[-1]  # the end of the lane, and the way it runs
            before_end = (ex - x[i]) * math.cos(eyaw) + (ey - y[i]) * math.sin(eyaw)
            if before_end < state.vehicle.bounding_box.extent.x + 6.0:
                self.unregister(state.vehicle)
                state.vehicle.destroy()
                removed = True
        return removed

    # -- junctions -----------------------------------------------------------------------------
    def _junction_gaps(self, states, rows, x, y, speed, coords, leader_gap) -> np.ndarray:
        gaps = np.full(len(states), np.inf)
        for state in states:
            if state.wait_kind:
                state.wait("", "")
        near = [i for i, s in enumerate(states) if s.route.entry is not None or s.holding]
        if not near:
            return gaps
        table = self.sim.vehicles
        ox, oy, ospeed = table.column("x"), table.column("y"), table.column("speed")
        xs, ys, speeds, leader_gaps = x.tolist(), y.tolist(), speed.tolist(), leader_gap.tolist()

        def room_after(i: int, index: int) -> float:
            """Free length of route ``i`` from its point ``index`` (to 12 m): up to the first slow vehicle."""
            return free_length(ox, oy, ospeed, coords[i, index:min(index + 6, ROUTE_POINTS)], states[i].vehicle.slot)

        crossing = CrossingTraffic(table, set(self.vehicles))

        def coming(i: int, index: int) -> int | None:
            """A vehicle this traffic manager does not drive coming across route ``i`` up to (4 m past) ``index``."""
            path = coords[i, :min(index + 3, ROUTE_POINTS)]
            return crossing.coming(xs[i], ys[i], float(rows[i, COLUMN["yaw"]]), speeds[i],
                                   float(rows[i, COLUMN["half_length"]]), path)

        for i in near:
            gaps[i] = self.junctions.stop_gap(states[i], xs[i], ys[i], speeds[i], self._time,
                                              lambda index, i=i: room_after(i, index), leader_gaps[i],
                                              lambda index, i=i: coming(i, index))
        return gaps

    # -- car following and steering --------------------------------------------------------------
    def _leaders(self, states, slots, rows, x, y, yaw, samples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gap to, speed and index (vehicles first, then walkers) of the nearest vehicle or walker on
        each route ahead (inf, 0, 0: none)."""
        table = self.sim.vehicles
        ox, oy = table.column("x"), table.column("y")
        oyaw, ospeed, olength, owidth = (table.column(k) for k in ("yaw", "speed", "half_length", "half_width"))
        walkers = self.sim.walker_positions()
        vehicle_count = len(ox)
        if len(walkers):
            ox, oy = np.concatenate([ox, walkers[:, 0]]), np.concatenate([oy, walkers[:, 1]])
            oyaw = np.concatenate([oyaw, walkers[:, 2]])
            ospeed = np.concatenate([ospeed, walkers[:, 3]])
            olength = np.concatenate([olength, np.full(len(walkers), 0.3)])
            owidth = np.concatenate([owidth, np.full(len(walkers), 0.3)])
        left_out = self._left_out(states, vehicle_count, len(ox))
        gap, leader = nearest_leaders(x, y, yaw, rows[:, COLUMN["half_length"]], rows[:, COLUMN["half_width"]], slots,
                                      np.ascontiguousarray(samples), ROUTE_STEP, ox, oy, oyaw, ospeed, olength, owidth,
                                      left_out, vehicle_count)
        speed = np.where(leader < vehicle_count, ospeed[leader], 0.0)  # a walker ahead: come to rest before it
        if self._touching:
            self._stop_for_contacts(states, rows, x, y, yaw, gap, leader, speed, vehicle_count)
        return gap, np.where(np.isfinite(gap), speed, 0.0), leader

    def _stop_for_contacts(self, states, rows, x, y, yaw, gap, leader, speed, vehicle_count: int) -> None:
        """A vehicle or walker that has touched a vehicle and is still within :data:`CONTACT_CLEARANCE` of
        it, in its front half, stops it (however it came there), until they are apart."""
        owners = self.sim.vehicles.owners
        index = {owner.id: k for k, owner in enumerate(owners)}
        planned = {state.vehicle.id: i for i, state in enumerate(states)}
        for vehicle_id, others in list(self._touching.items()):
            i = planned.get(vehicle_id)
            if i is None:
                del self._touching[vehicle_id]
                continue
            state = states[i]
            for other in list(others):
                if not other.is_alive:
                    others.discard(other)
                    continue
                t, e = other.get_transform(), other.bounding_box.extent
                depth, _, _ = penetration(t.location.x - x[i], t.location.y - y[i], yaw[i],
                                          rows[i, COLUMN["half_length"]], rows[i, COLUMN["half_width"]],
                                          math.radians(t.rotation.yaw), e.x, e.y)
                if depth < -CONTACT_CLEARANCE:
                    others.discard(other)  # apart again
                    continue
                walker = other.id not in index
                if other.id in state.ignored_actors or (state.ignore_walkers if walker else state.ignore_vehicles) > 0.0:
                    continue  # told to ignore it (collision_detection, ignore percentages)
                if (t.location.x - x[i]) * math.cos(yaw[i]) + (t.location.y - y[i]) * math.sin(yaw[i]) > 0.0:
                    gap[i], leader[i], speed[i] = 0.0, index.get(other.id, vehicle_count), 0.0
            if not others:
                del self._touching[vehicle_id]

    def _left_out(self, states, vehicle_count: int, others: int) -> np.ndarray:
        """The vehicles and walkers each state ignores this plan, (states, others) (percentages drawn per
        plan, as CARLA draws them per frame; ``collision_detection`` exceptions always); (0, 0) when none does."""
        if not any(s.ignore_vehicles > 0.0 or s.ignore_walkers > 0.0 or s.ignored_actors for s in states):
            return np.zeros((0, 0), dtype=bool)
        owners = self.sim.vehicles.owners
        left_out = np.zeros((len(states), others), dtype=bool)
        for i, state in enumerate(states):
            if state.ignore_vehicles > 0.0 and self.rng.uniform(0.0, 100.0) < state.ignore_vehicles:
                left_out[i, :vehicle_count] = True
            if state.ignore_walkers > 0.0 and self.rng.uniform(0.0, 100.0) < state.ignore_walkers:
                left_out[i, vehicle_count:] = True
            if state.ignored_actors:
                for j in range(vehicle_count):
                    if owners[j].id in state.ignored_actors:
                        left_out[i, j] = True
        return left_out

    def _drive(self, states, slots, rows, x, y, yaw, speed, targets, cruise, gap, leader_speed, stop_gap) -> None:
        """Vectorised car following (IDM) and pure-pursuit steering for all autopilot vehicles."""
        table = self.sim.vehicles
        standstill = np.array([self.distance if s.distance is None else s.distance for s in states])
        at_line = stop_gap + standstill  # come to rest with the front at the stop line
        stopped = at_line < gap
        gap = np.where(stopped, at_line, gap)
        leader_speed = np.where(stopped, 0.0, leader_speed)
        v = np.maximum(speed, 0.0)
        desired = standstill + v * IDM_HEADWAY + v * (v - leader_speed) / (2 * math.sqrt(IDM_ACCEL * IDM_DECEL))
        halted = cruise < HALTED_CRUISE  # told to stand (a speed difference of 100 %): brake and hold, no creeping
        free = np.where(halted, -1.0, 1.0 - (v / np.maximum(cruise, HALTED_CRUISE)) ** 4)
        interaction = np.where(np.isfinite(gap), (np.maximum(desired, 0.0) / np.maximum(gap, 0.1)) ** 2, 0.0)
        accel = clamp(IDM_ACCEL * (free - interaction), -8.0, IDM_ACCEL)
        self._accel_cruise[:, 0], self._accel_cruise[:, 1] = accel, np.maximum(cruise, 0.0)  # (states: the members)
        # what the controls must add to the slope's pull (uphill: more throttle; downhill: brake to hold)
        wanted = accel + GRAVITY * np.sin(rows[:, COLUMN["ground_pitch"]])
        throttle = np.where(wanted > 0.0, table.throttle_for(slots, np.maximum(wanted, 0.0)), 0.0)
        brake = np.where(wanted < -COASTING, clamp((-wanted - COASTING) / table.brake_decel(slots), 0.0, 1.0), 0.0)
        hold = (v < 0.3) & (halted | np.isfinite(gap) & (gap < standstill + 1.0))
        brake = np.where(hold, 1.0, brake)
        throttle = np.where(hold, 0.0, throttle)
        fx, fy = np.cos(yaw), np.sin(yaw)
        offset = np.array([self.lane_offset if s.lane_offset is None else s.lane_offset for s in states])
        tx, ty = targets[:, 0] - offset * fy, targets[:, 1] + offset * fx  # right of the lane centre
        # pure pursuit from a point between the axles: a rear-axle reference swings the front wide in
        # tight turns (into the cars waiting at the next approach); long vehicles keep their front
        # on the path and let the rear cut the corner (slowly: over the curb, as trucks do)
        long = rows[:, COLUMN["half_length"]] > LONG_VEHICLE
        middle = rows[:, COLUMN["rear_axle"]] + np.where(long, 0.8, 0.3) * rows[:, COLUMN["wheelbase"]]
        tx, ty = tx - (x + middle * fx), ty - (y + middle * fy)
        along, lateral = tx * fx + ty * fy, -tx * fy + ty * fx
        alpha = np.arctan2(lateral, np.maximum(along, 0.1))
        distance = np.maximum(np.hypot(tx, ty), 1.0)
        steer = table.steer_for(slots, 2.0 * np.sin(alpha) / distance, v)
        c, data = COLUMN, table.data
        data[slots, c["throttle"]], data[slots, c["brake"]], data[slots, c["steer"]] = throttle, brake, steer
        data[slots, c["reverse"]] = 0.0
        data[slots, c["hand_brake"]] = 0.0

    def _update_lights(self, states) -> None:
        weather = self.sim.weather
        for state in states:
            if state.update_lights:
                changing = state.change_side if state.changing_until > self._time else None
                state.vehicle.set_light_state(light_state(weather, state.vehicle.get_control(),
                                                          changing or self.next_turn(state)))

    # -- reading -------------------------------------------------------------------------------
    def next_turn(self, state: AutopilotState, within: float = 25.0) -> str | None:
        """The fork's road option (Left, Right) within ``within`` metres, if any."""
        for index, option in state.route.turns:
            if index * ROUTE_STEP <= within and option in ("Left", "Right"):
                return option
        return None

    def actions(self, state: AutopilotState) -> list[tuple[str, carla.Waypoint]]:
        """CARLA's road options along the vehicle's route (a lane change under way first)."""
        actions = state.route.actions()
        if state.changing_until > self._time and state.change_side and actions:
            actions[0] = (state.change_side, actions[0][1])
        return actions


@njit(cache=True)
def free_length(x: np.ndarray, y: np.ndarray, speed: np.ndarray, points: np.ndarray, own: int) -> float:
    """Metres of a route's ``points`` (ROUTE_STEP apart) free of slow vehicles (slower than 3 m/s, within 2 m of a
    point; the vehicle table's columns ``x``, ``y``, ``speed``, row ``own`` left out): the index of the first point
    that such a vehicle is nearest, times ROUTE_STEP (inf: none)."""
    first = points.shape[0]
    for v in range(x.shape[0]):
        if v == own or speed[v] >= 3.0:
            continue
        nearest, at = np.inf, 0
        for p in range(points.shape[0]):
            distance = np.hypot(x[v] - points[p, 0], y[v] - points[p, 1])
            if distance < nearest:
                nearest, at = distance, p
        if nearest < 2.0:
            first = min(first, at)
    return first * ROUTE_STEP if first < points.shape[0] else math.inf
