"""The autopilot behind the embedded traffic manager: plans every autopilot vehicle's control.

One :class:`AutopilotPlanner` serves one traffic manager (one port). Ten times per simulated second (every second tick at 20 Hz; controls are held in between), before
physics, each autopilot vehicle gets a ``VehicleControl``:

- **Route**: waypoints every 2 m along its lane, at least 40 m ahead; at a fork the branch is drawn
  from the manager's RNG (``set_random_device_seed``), or leads towards the next ``set_path`` point.
- **Steering**: pure pursuit of a route point 4-15 m ahead (further at speed).
- **Speed**: the road's speed limit (the map's speed signs, else the town's default) lowered by the
  speed difference percentage (CARLA's default 30 %), or ``set_desired_speed``; slower in curves.
- **Car following**: the Intelligent Driver Model towards the nearest vehicle or walker on the route
  ahead (``set_global_distance_to_leading_vehicle`` is its standstill gap), vectorised over all pairs.
- **Junctions**: stop at red (and at yellow when there is room) unless ignoring lights
  (``ignore_lights_percentage``); and enter a junction only when no vehicle from another lane is
  inside (first come, first served; followers in the same lane may enter together), which keeps
  crossing paths apart.

Lane changes are not made (``auto_lane_change`` is accepted and stored).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import carla
import numpy as np

from ..sim.dynamics import COLUMN, clamp

if TYPE_CHECKING:
    from ..sim.kernel import Simulation

ROUTE_STEP = 2.0
ROUTE_POINTS = 22  # 42 m of route
SAMPLES = np.arange(0, 16)  # route indices sampled for the leader search (every 2 m, 0-30 m)
IDM_ACCEL, IDM_DECEL, IDM_HEADWAY, LATERAL_ACCEL = 2.0, 3.0, 1.2, 2.5
PLANNING_PERIOD = 0.1  # seconds of simulation between two plans (10 Hz); controls are held in between
OFF_ROUTE_DISTANCE = 6.0  # metres from the route's current point: re-localise
OFF_ROUTE_ACROSS = 2.5  # metres across the route segment (outside junctions): re-localise
STOP_MARGIN = 4.0  # metres between a vehicle's front and the junction it waits for
COASTING = 0.5  # m/s² a vehicle loses with the throttle closed (rolling, drag, engine braking)


class AutopilotState:
    """Route and settings of one autopilot vehicle."""

    def __init__(self, vehicle: Any) -> None:
        self.vehicle = vehicle
        self.route: list[tuple[float, float, float, carla.Waypoint]] = []
        self.coords: list[float] = []  # x0, y0, x1, y1, ... of the route, kept in step with it
        self.entry: int | None = None  # index of the route's first junction point
        self.entry_lights: tuple = ()  # (approach lane, its lights) of that junction
        self.speed_difference: float | None = None
        self.distance: float | None = None
        self.ignore_lights = 0.0
        self.desired_speed: float | None = None  # km/h
        self.path: list[carla.Location] = []
        self.auto_lane_change = True
        self.reservation: tuple[int, tuple[int, int]] | None = None  # (junction, approach lane)
        self.reserved_at = 0.0
        self.runs_light: dict[int, bool] = {}
        self.cruise: float | None = None  # cached target speed; None when the route or settings change


class AutopilotPlanner:
    """Routes, settings and per-tick control of the vehicles of one traffic manager."""

    def __init__(self, sim: "Simulation", port: int) -> None:
        self.sim, self.port = sim, port
        self.vehicles: dict[int, AutopilotState] = {}
        self.rng = np.random.default_rng()
        self.synchronous = False
        self.hybrid = False
        self.distance = 2.5  # standstill gap, m
        self.speed_difference = 30.0  # percent below the speed limit
        self._reservations: dict[int, dict[int, tuple[int, int]]] = {}  # junction -> vehicle -> lane
        self._time = 0.0
        self._since_plan = math.inf  # seconds since the last plan
        self._members: list[AutopilotState] = []  # the autopilots in the order of the rows below
        self._coords = np.zeros((0, ROUTE_POINTS, 2))  # their routes' points
        sim.add_pre_tick_hook(self.tick)

    def state(self, actor: Any) -> AutopilotState:
        """The state of a registered vehicle (a clear error for one that is not)."""
        state = self.vehicles.get(actor.id)
        if state is None:
            raise RuntimeError(f"vehicle {actor.id} is not registered with the traffic manager on port "
                               f"{self.port}. Fix: call vehicle.set_autopilot(True, {self.port}) first.")
        return state

    def replan_speeds(self) -> None:
        """Forget every cached cruise speed (the global speed difference changed)."""
        for state in self.vehicles.values():
            state.cruise = None

    def register(self, vehicle: Any) -> None:
        self.vehicles.setdefault(vehicle.id, AutopilotState(vehicle))

    def unregister(self, vehicle: Any) -> None:
        state = self.vehicles.pop(vehicle.id, None)
        if state is not None:
            self._release(state)

    # -- per tick ------------------------------------------------------------------------------
    def tick(self, dt: float) -> None:
        """Plan (every :data:`PLANNING_PERIOD` seconds, or for new vehicles) before physics."""
        self._time += dt
        self._since_plan += dt
        new = any(not state.route for state in self.vehicles.values())
        if self._since_plan < PLANNING_PERIOD - 1e-9 and not new:
            return
        self._since_plan = 0.0
        for actor_id in [i for i, s in self.vehicles.items() if not s.vehicle.is_alive]:
            self._release(self.vehicles.pop(actor_id))
        if not self.vehicles:
            return
        states = list(self.vehicles.values())
        slots = np.array([s.vehicle.slot for s in states])
        rows = self.sim.vehicles.data[slots]
        x, y, yaw, speed = (rows[:, COLUMN[k]] for k in ("x", "y", "yaw", "speed"))
        count = len(states)
        if states != self._members:  # registrations changed: rebuild the route array
            for i, state in enumerate(states):
                if not state.route:
                    self._follow(state, float(x[i]), float(y[i]), float(yaw[i]))
            self._members = states
            self._coords = np.array([state.coords for state in states]).reshape(count, ROUTE_POINTS, 2)
        coords = self._coords
        # Route upkeep only where needed: a route point passed, or the vehicle off its route.
        c0, c1, c2 = coords[:, 0], coords[:, 1], coords[:, 2]
        passed = (x - c1[:, 0]) * (c2[:, 0] - c1[:, 0]) + (y - c1[:, 1]) * (c2[:, 1] - c1[:, 1]) >= 0.0
        segment = np.maximum(np.hypot(c1[:, 0] - c0[:, 0], c1[:, 1] - c0[:, 1]), 1e-6)
        across = np.abs((x - c0[:, 0]) * (c1[:, 1] - c0[:, 1]) - (y - c0[:, 1]) * (c1[:, 0] - c0[:, 0])) / segment
        far = (x - c0[:, 0]) ** 2 + (y - c0[:, 1]) ** 2 > OFF_ROUTE_DISTANCE ** 2
        for i in np.flatnonzero(passed | far | (across > OFF_ROUTE_ACROSS)):  # _follow decides exactly
            state = states[i]
            self._follow(state, float(x[i]), float(y[i]), float(yaw[i]))
            coords[i] = np.reshape(state.coords, (ROUTE_POINTS, 2))  # kept in self._coords
        lookahead = clamp(((4.0 + 0.5 * speed) / ROUTE_STEP).astype(int), 2, ROUTE_POINTS - 1)
        targets = coords[np.arange(count), lookahead]
        samples = coords[:, SAMPLES]
        cruise, entry, reserved, lit = (np.array(column) for column in zip(*[
            (state.cruise if state.cruise is not None else self._cruise_speed(state),
             state.entry or 0, state.reservation is not None, bool(state.entry_lights and state.entry_lights[1]))
            for state in states]))
        before = coords[np.arange(count), np.maximum(entry - 1, 0)]
        distance = np.hypot(before[:, 0] - x, before[:, 1] - y)
        reserve_reach = np.maximum(8.0, speed * speed / (2.0 * IDM_DECEL) + 3.0) + 8.0
        relevant = (entry > 0) & (distance < reserve_reach)
        for i in np.flatnonzero(lit & (entry > 0) & (distance < 50.0) & ~relevant):  # a light not green?
            relevant[i] = any(light.state != carla.TrafficLightState.Green for light in self._entry_lights(states[i]))
        stop_gap = np.full(count, np.inf)
        for i in np.flatnonzero(relevant | reserved):
            stop_gap[i] = self._junction_gap(states[i], float(x[i]), float(y[i]), float(speed[i]))
        self._control(states, rows, slots, x, y, yaw, speed, targets, samples, cruise, stop_gap)

    def _follow(self, state: AutopilotState, x: float, y: float, yaw: float) -> None:
        """Drop passed route points, re-localise if off the route, extend to ROUTE_POINTS."""
        route, coords = state.route, state.coords
        state.cruise = None
        while len(route) > 2:
            x1, y1, x2, y2 = coords[2], coords[3], coords[4], coords[5]
            if (x - x1) * (x2 - x1) + (y - y1) * (y2 - y1) < 0.0:
                break
            route.pop(0)
            del coords[:2]
            state.entry = None if state.entry is None else state.entry - 1
        if not route or self._off_route(coords, x, y, route[0][3].is_junction):  # rechecked exactly
            route[:], coords[:], state.entry = [], [], None
            self._append(state, self._lane_at(x, y, yaw))
        if state.entry is not None and state.entry < 1:  # inside the junction: look for the next one
            state.entry = next((k for k in range(1, len(route)) if route[k][3].is_junction
                                and route[k][3].junction_id != route[0][3].junction_id), None)
        while len(route) < ROUTE_POINTS:
            options = route[-1][3].next(ROUTE_STEP) or self._bridge(route[-1]) or [route[-1][3]]
            self._append(state, self._choose(state, options, math.degrees(route[-1][2])))
        self._entry_lights(state)  # keep the cache current for the vectorised pre-check

    def _bridge(self, point: tuple[float, float, float, carla.Waypoint]) -> list[carla.Waypoint]:
        """Where a lane ends without a successor link, the lane 2 m ahead running the same way
        (maps can join roads by geometry only); [] at a real dead end."""
        x, y, yaw, waypoint = point
        ahead = self.sim.map.get_waypoint(
            carla.Location(x + ROUTE_STEP * math.cos(yaw), y + ROUTE_STEP * math.sin(yaw), 0.0),
            project_to_road=False)
        if ahead is None or ahead.id == waypoint.id or \
                math.cos(math.radians(ahead.transform.rotation.yaw) - yaw) < 0.5:
            return []
        return [ahead]

    @staticmethod
    def _off_route(coords: list[float], x: float, y: float, in_junction: bool) -> bool:
        """Far from the route, or (outside junctions, whose connector lanes overlap) too far across it."""
        x0, y0, x1, y1 = coords[0], coords[1], coords[2], coords[3]
        if (x - x0) ** 2 + (y - y0) ** 2 > OFF_ROUTE_DISTANCE ** 2:
            return True
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        return not in_junction and abs((x - x0) * (y1 - y0) - (y - y0) * (x1 - x0)) / length > OFF_ROUTE_ACROSS

    def _lane_at(self, x: float, y: float, yaw: float) -> carla.Waypoint:
        """The nearest driving lane that runs the vehicle's way: under it, or up to 5 m to either
        side (opposite directions can be separate roads side by side, as in Osm2Odr towns)."""
        town_map = self.sim.map
        right_x, right_y = -math.sin(yaw), math.cos(yaw)
        first = None
        for offset in (0.0, 2.0, -2.0, 3.5, -3.5, 5.0, -5.0):
            waypoint = town_map.get_waypoint(carla.Location(x + offset * right_x, y + offset * right_y, 0.0))
            first = first or waypoint
            if waypoint is not None and math.cos(math.radians(waypoint.transform.rotation.yaw) - yaw) > 0.0:
                return waypoint
        return first

    @staticmethod
    def _append(state: AutopilotState, waypoint: carla.Waypoint) -> None:
        t = waypoint.transform
        state.route.append((t.location.x, t.location.y, math.radians(t.rotation.yaw), waypoint))
        state.coords += (t.location.x, t.location.y)
        if state.entry is None and waypoint.is_junction and len(state.route) > 1:
            state.entry = len(state.route) - 1

    def _choose(self, state: AutopilotState, options: list[carla.Waypoint], heading: float) -> carla.Waypoint:
        """The branch to take at a fork (never a U-turn when there is another way)."""
        if len(options) == 1:
            return options[0]
        ends = [option.next_until_lane_end(4.0) or [option] for option in options]
        no_u_turn = [o for o, end in zip(options, ends)
                     if abs((end[-1].transform.rotation.yaw - heading + 180.0) % 360.0 - 180.0) < 135.0]
        options = no_u_turn or options
        if state.path:
            goal = state.path[0]
            return min(options, key=lambda w: w.transform.location.distance(goal))
        return options[int(self.rng.integers(len(options)))]

    def _cruise_speed(self, state: AutopilotState) -> float:
        """Target speed (m/s): limit or desired speed, slowed for the curve ahead; 0 before a dead end."""
        route = state.route
        if route[-1][3].id == route[-2][3].id:
            state.cruise = 0.0
            return 0.0
        if state.path and math.hypot(route[0][0] - state.path[0].x, route[0][1] - state.path[0].y) < 4.0:
            state.path.pop(0)
        if state.desired_speed is not None:
            target = state.desired_speed / 3.6
        else:
            difference = self.speed_difference if state.speed_difference is None else state.speed_difference
            target = self.sim.speed_limits.for_road(route[1][3].road_id) / 3.6 * (1.0 - difference / 100.0)
        for end in (4, 7, len(route) - 1):  # the sharpest curve over the next 6, 12 and 40 m
            turn = abs((route[end][2] - route[1][2] + math.pi) % (2 * math.pi) - math.pi)
            if turn > 0.05:
                target = min(target, math.sqrt(LATERAL_ACCEL * ROUTE_STEP * (end - 1) / turn))
        state.cruise = max(target, 0.0)
        return state.cruise

    def _junction_gap(self, state: AutopilotState, x: float, y: float, speed: float) -> float:
        """Distance to where the vehicle must stop for a light or a busy junction (inf: none)."""
        route = state.route
        if state.reservation and not route[0][3].is_junction and \
                self._time - state.reserved_at > 1.0 and (state.entry is None or
                                                          route[state.entry][3].junction_id != state.reservation[0]):
            self._release(state)  # left the junction it had reserved
        entry = state.entry
        if entry is None:
            return math.inf
        front = state.vehicle.bounding_box.extent.x
        distance = max(math.hypot(route[entry - 1][0] - x, route[entry - 1][1] - y) - front - STOP_MARGIN, 0.0)
        if distance > 40.0:
            return math.inf
        approach, junction = route[entry - 1][3], route[entry][3].junction_id
        gap = math.inf
        for light in self._entry_lights(state):
            if light.state == carla.TrafficLightState.Green:
                continue
            if light.id not in state.runs_light:
                state.runs_light[light.id] = self.rng.uniform(0.0, 100.0) < state.ignore_lights
            can_stop = distance > speed * speed / (2.0 * IDM_DECEL) or light.state == carla.TrafficLightState.Red
            if not state.runs_light[light.id] and can_stop:
                gap = min(gap, distance)
        if gap == math.inf and distance < max(8.0, speed * speed / (2.0 * IDM_DECEL) + 3.0):
            if not self._reserve(state, junction, (approach.road_id, approach.lane_id)):
                gap = distance
        return gap

    def _entry_lights(self, state: AutopilotState) -> tuple:
        """The lights of the lane leading into the route's next junction (cached per entry)."""
        if state.entry is None:
            return ()
        approach = state.route[state.entry - 1][3]
        key = (approach.road_id, approach.lane_id)
        if not state.entry_lights or state.entry_lights[0] != key:
            state.entry_lights = (key, self.sim.lights.on_lane(*key))
        return state.entry_lights[1]

    def _reserve(self, state: AutopilotState, junction: int, approach: tuple[int, int]) -> bool:
        """Enter ``junction`` from the ``approach`` lane if only vehicles from that lane are in it. A
        vehicle going straight on into a neighbouring junction keeps the one it is in until it leaves."""
        occupants = self._reservations.setdefault(junction, {})
        if state.reservation and state.reservation[0] == junction:
            return True
        me = state.vehicle.id
        if any(lane != approach for holder, lane in occupants.items() if holder != me):
            return False
        occupants[me] = approach
        state.reservation, state.reserved_at = (junction, approach), self._time
        return True

    def _release(self, state: AutopilotState) -> None:
        """Leave the reserved junction; the next light is decided afresh."""
        state.runs_light.clear()
        state.reservation = None
        inside = state.route[0][3].junction_id if state.route and state.route[0][3].is_junction else None
        for junction, occupants in self._reservations.items():  # its own but where it is, and holders gone
            for holder in [v for v in occupants if v not in self.vehicles or (v == state.vehicle.id and
                                                                              junction != inside)]:
                occupants.pop(holder)

    def _control(self, states, rows, slots, x, y, yaw, speed, targets, samples, cruise, stop_gap) -> None:
        """Vectorised car following (IDM) and pure-pursuit steering for all autopilot vehicles."""
        table = self.sim.vehicles
        ox, oy = table.column("x"), table.column("y")
        oyaw, ospeed, olength = table.column("yaw"), table.column("speed"), table.column("half_length")
        walkers = self.sim.walker_positions()
        if len(walkers):
            ox, oy = np.concatenate([ox, walkers[:, 0]]), np.concatenate([oy, walkers[:, 1]])
            oyaw = np.concatenate([oyaw, walkers[:, 2]])
            ospeed = np.zeros(len(ox)) if not len(ospeed) else np.concatenate([ospeed, np.zeros(len(walkers))])
            olength = np.concatenate([olength, np.full(len(walkers), 0.3)])
        fx, fy = np.cos(yaw), np.sin(yaw)
        dx, dy = ox[None, :] - x[:, None], oy[None, :] - y[:, None]
        ahead = dx * fx[:, None] + dy * fy[:, None]
        lateral = dy * fx[:, None] - dx * fy[:, None]
        reach_ahead = ROUTE_STEP * len(SAMPLES)
        near = (ahead > 0.0) & (ahead < reach_ahead) & (np.abs(lateral) < 0.75 * ahead + 4.0)
        near[np.arange(len(slots)), slots] = False  # not its own leader
        i, j = np.nonzero(near)  # candidate pairs (follower i, other j), then the exact tests
        a = ahead[i, j]
        index = clamp(np.round(a / ROUTE_STEP).astype(int), 0, len(SAMPLES) - 1)
        point = samples[i, index]
        owidth = np.concatenate([table.column("half_width"), np.full(len(walkers), 0.3)])
        reach = rows[i, COLUMN["half_width"]] + owidth[j] + np.where(a < 10.0, 1.5, 0.5)
        on_path = np.hypot(ox[j] - point[:, 0], oy[j] - point[:, 1]) < reach
        same_way = fx[i] * np.cos(oyaw[j]) + fy[i] * np.sin(oyaw[j]) > -0.2
        keep = on_path & same_way
        i, j, a = i[keep], j[keep], a[keep]
        half = rows[:, COLUMN["half_length"]]
        pair_gap = a - half[i] - olength[j]
        gap = np.full(len(slots), np.inf)
        leader = np.zeros(len(slots), dtype=int)
        if len(i):
            order = np.lexsort((pair_gap, i))  # by follower, nearest first
            first = order[np.r_[True, i[order][1:] != i[order][:-1]]]
            gap[i[first]] = pair_gap[first]
            leader[i[first]] = j[first]
        leader_speed = np.where(np.isfinite(gap), ospeed[leader], 0.0)
        stopped = stop_gap < gap
        gap = np.where(stopped, stop_gap, gap)
        leader_speed = np.where(stopped, 0.0, leader_speed)
        standstill = np.array([self.distance if s.distance is None else s.distance for s in states])
        v = np.maximum(speed, 0.0)
        desired = standstill + v * IDM_HEADWAY + v * (v - leader_speed) / (2 * math.sqrt(IDM_ACCEL * IDM_DECEL))
        free = 1.0 - (v / np.maximum(cruise, 0.1)) ** 4
        interaction = np.where(np.isfinite(gap), (np.maximum(desired, 0.0) / np.maximum(gap, 0.1)) ** 2, 0.0)
        accel = clamp(IDM_ACCEL * (free - interaction), -8.0, IDM_ACCEL)
        c = COLUMN
        throttle = np.where(accel > 0.0, table.throttle_for(slots, np.maximum(accel, 0.0)), 0.0)
        brake = np.where(accel < -COASTING, clamp((-accel - COASTING) / table.brake_decel(slots), 0.0, 1.0), 0.0)
        hold = (v < 0.3) & (np.isfinite(gap)) & (gap < standstill + 1.0)
        brake = np.where(hold, 1.0, brake)
        throttle = np.where(hold, 0.0, throttle)
        rear = rows[:, c["rear_axle"]]  # pure pursuit steers the rear axle along the route (its usual reference)
        tx, ty = targets[:, 0] - (x + rear * fx), targets[:, 1] - (y + rear * fy)
        along, lateral = tx * fx + ty * fy, -tx * fy + ty * fx
        alpha = np.arctan2(lateral, np.maximum(along, 0.1))
        distance = np.maximum(np.hypot(tx, ty), 1.0)
        steer = table.steer_for(slots, 2.0 * np.sin(alpha) / distance, v)
        data = table.data
        data[slots, c["throttle"]], data[slots, c["brake"]], data[slots, c["steer"]] = throttle, brake, steer
        data[slots, c["reverse"]] = 0.0
        data[slots, c["hand_brake"]] = 0.0
