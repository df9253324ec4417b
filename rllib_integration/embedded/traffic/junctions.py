"""How autopilot vehicles enter junctions: lights, stop and yield signs, and right of way.

For the next junction on a vehicle's route (:class:`~.routes.Route`), :meth:`JunctionControl.stop_gap`
gives the distance from the vehicle's front to where it must stop (``inf``: go on):

- **lights**: stop at red, and at yellow unless the vehicle cannot stop comfortably before the
  junction (a vehicle standing or creeping at the line never starts into a yellow); the stop is 4 m before the
  junction (inside the light's trigger volume, as CARLA's traffic manager) unless the vehicle
  ignores lights (``ignore_lights_percentage``, drawn once per light and approach);
- **stop signs**: come to a full stop at the line first (``ignore_signs_percentage``);
- **right of way**: a vehicle enters only when no vehicle holding the junction drives a path that
  crosses or merges into its own (paths from the same lane, and paths that stay apart by both
  vehicles' half widths and a margin may be driven together: opposite through traffic, parallel
  turns of small cars; a holder whose rear has passed the last point where the two paths come near no
  longer counts, so long junctions let crossing traffic follow behind), and when there is room for it beyond
  the junction (it never blocks the box). Holding is first come, first served; a vehicle that holds a
  junction it has not entered and has not moved for 3 s lets it go, so two queues can never wait
  for each other; a vehicle refused by the holders 2 s before another goes before it, so a busy
  junction starves no approach. Junctions less than 20 m apart on a route are asked for together, with room
  needed beyond the last: no vehicle waits inside one junction for the next. Vehicles the traffic manager does not
  drive hold nothing: a vehicle does not enter while one of them is coming across its way (:mod:`.crossing`).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Callable

import carla
import numpy as np

from .routes import lane_start

if TYPE_CHECKING:
    from .autopilot_state import AutopilotState

LINE_OFFSET = 4.0  # metres between the front of a vehicle waiting at a junction and the junction
DECEL = 3.0  # comfortable deceleration, m/s²
CONFLICT_MARGIN, TURN_MARGIN = 0.8, 1.2  # metres kept between two vehicles' sides in a junction
IDLE_RELEASE = 3.0  # seconds a vehicle outside the junction may hold it without moving
CHAIN_GAP = 20.0  # metres: junctions closer than this on a route are entered together
FAIR_WAIT = 2.0  # seconds: a vehicle refused this much earlier than another enters before it
STALE_WAIT = 0.5  # seconds: a vehicle not refused for this long no longer waits


@functools.lru_cache(maxsize=4096)
def _path_samples(connector: carla.Waypoint) -> np.ndarray:
    """Points every metre along a junction's connecting lane."""
    points = [connector] + connector.next_until_lane_end(1.0)
    return np.array([(w.transform.location.x, w.transform.location.y) for w in points])


class Paths:
    """How close the junctions' connecting lanes come to each other (cached per pair)."""

    def __init__(self) -> None:
        self._distances: dict[tuple, float] = {}
        self._starts: dict[tuple[int, int], carla.Waypoint] = {}
        self._turning: dict[tuple[int, int], bool] = {}
        self._clear: dict[tuple, float] = {}

    def register(self, connector: carla.Waypoint) -> tuple[int, int]:
        """The key of a connecting lane (its road and lane), remembered with its first waypoint."""
        key = (connector.road_id, connector.lane_id)
        if key not in self._starts:
            self._starts[key] = lane_start(connector)
            samples = _path_samples(self._starts[key])
            heading = np.arctan2(np.diff(samples[:, 1]), np.diff(samples[:, 0])) if len(samples) > 1 else np.zeros(1)
            self._turning[key] = bool(abs((heading[-1] - heading[0] + np.pi) % (2 * np.pi) - np.pi) > 0.5)
        return key

    def distance(self, a: tuple[int, int], b: tuple[int, int]) -> float:
        """The least distance between two connecting lanes (lanes from one entry: after 3 m)."""
        if a == b:
            return math.inf
        pair = (a, b) if a < b else (b, a)
        if pair not in self._distances:
            pa, pb = _path_samples(self._starts[a]), _path_samples(self._starts[b])
            distance = np.hypot(pa[:, None, 0] - pb[None, :, 0], pa[:, None, 1] - pb[None, :, 1])
            if np.hypot(*(pa[0] - pb[0])) < 0.5:  # followers from one lane: only a later merge counts
                distance = distance[3:, 3:]
            self._distances[pair] = float(distance.min()) if distance.size else math.inf
        return self._distances[pair]

    def conflict(self, a: tuple[int, int], width_a: float, b: tuple[int, int], width_b: float) -> bool:
        """Whether vehicles of half widths ``width_a`` and ``width_b`` on lanes ``a`` and ``b`` could
        touch: their paths come closer than both half widths and a margin (wider where a path turns,
        whose vehicle's corners swing out)."""
        return self.distance(a, b) < width_a + width_b + self._margin(a, b)

    def _margin(self, a: tuple[int, int], b: tuple[int, int]) -> float:
        return CONFLICT_MARGIN + (TURN_MARGIN if self._turning.get(a) or self._turning.get(b) else 0.0)

    def clear_after(self, a: tuple[int, int], width_a: float, b: tuple[int, int], width_b: float) -> float:
        """Metres along lane ``b`` past which a vehicle on it (its rear) no longer comes near lane ``a``:
        the last point of ``b`` within the conflict distance of ``a``, plus a metre (inf for no lane)."""
        key = (a, b, round(width_a + width_b, 1))
        if key not in self._clear:
            pa, pb = _path_samples(self._starts[a]), _path_samples(self._starts[b])
            near = np.hypot(pb[:, None, 0] - pa[None, :, 0], pb[:, None, 1] - pa[None, :, 1]).min(axis=1) \
                < width_a + width_b + self._margin(a, b)
            self._clear[key] = float(np.flatnonzero(near)[-1] + 1.0) if near.any() else 0.0
        return self._clear[key]

    def progress(self, b: tuple[int, int], x: float, y: float) -> float:
        """Metres along lane ``b`` of its point nearest to (x, y)."""
        samples = _path_samples(self._starts[b])
        return float(np.argmin(np.hypot(samples[:, 0] - x, samples[:, 1] - y)))


class JunctionControl:
    """Lights, signs and right of way at junctions, for the vehicles of one traffic manager."""

    def __init__(self, signals: Any, rng: np.random.Generator) -> None:
        self.signals = signals
        self.rng = rng
        self.paths = Paths()
        #: junction -> {vehicle id: (connecting lane key, the vehicle's half width)}
        self.holders: dict[int, dict[int, tuple[tuple[int, int], float]]] = {}
        self._holding_states: dict[int, "AutopilotState"] = {}  # vehicle id -> state, of the vehicles holding
        #: junction -> {vehicle id: (lane key, half width, waiting since, last refused here, last refused at any
        #: junction of its chain)} of the vehicles refused: one that has waited longer and could go now (it was
        #: refused here, not at another junction of its chain) goes first, so no vehicle waits forever
        self.waiters: dict[int, dict[int, tuple[tuple[int, int], float, float, float, float]]] = {}
        self._chains: dict[int, tuple] = {}  # vehicle id -> (route, its version, entry, chain)

    def stop_gap(self, state: "AutopilotState", x: float, y: float, speed: float, now: float,
                 room_after: Callable[[int], float], leader_gap: float,
                 coming: Callable[[int], int | None] = lambda index: None) -> float:
        """Distance from the vehicle's front to where it must stop for its next junction (inf: go).
        ``room_after(index)``: free length of the route beyond its point ``index``; ``leader_gap``:
        the gap to the vehicle ahead (only the first of a queue asks for the junction); ``coming(index)``: a vehicle
        this traffic manager does not drive coming across the route up to its point ``index`` (:mod:`.crossing`)."""
        route = state.route
        self._leave_passed(state)
        inside = self._light_inside(state, x, y, speed)
        if inside is not None:
            return inside
        entry = route.entry
        if entry is None or entry < 1:
            return math.inf
        front = state.vehicle.bounding_box.extent.x
        ex, ey = state.entry_point(entry)
        distance = math.hypot(ex - x, ey - y) - front
        if distance > 45.0:
            return math.inf
        line = max(distance - LINE_OFFSET, 0.0)
        approach = route.points[entry - 1][3]
        junction = route.points[entry][3].junction_id
        key = (approach.road_id, approach.lane_id)
        braking = speed * speed / (2.0 * DECEL)
        for light in self.signals.on_lane(*key) if distance > 0.0 else ():  # past the line: go on
            if light.state == carla.TrafficLightState.Green or self._ignores(state, light.id, state.ignore_lights):
                continue
            if light.state == carla.TrafficLightState.Red or distance > braking:  # yellow: stop if it can
                self._release(state, junction)
                state.wait("", "light", light=light)
                return line
        for sign in self.signals.signs_on_lane(*key) if distance > 0.0 else ():
            if sign.type_id == "traffic.stop" and state.stopped_at != (junction, key) and \
                    not self._ignores(state, sign.id, state.ignore_signs):
                if line < 1.5 and speed < 0.1:
                    state.stopped_at = (junction, key)
                else:
                    state.wait(f"stop sign {sign.id}", "sign")
                    return line
        if distance > max(8.0, braking + 3.0) + 8.0:
            return math.inf
        if leader_gap < line - 1.0 and junction not in state.holding:
            return line  # another vehicle waits before this one: it asks first
        if not self._may_enter(state, self._chain_of(state, entry), now, speed, room_after, coming):
            return line
        return math.inf

    def _light_inside(self, state: "AutopilotState", x: float, y: float, speed: float) -> float | None:
        """For a vehicle inside a junction: the distance to the stop line of a light ahead that is not green, whose
        line its route crosses before it leaves the junctions (on a lane the map overlaps with its own: see
        ``Route.lights_across``), or None. It stops 1 m before the line and gives up the junctions beyond."""
        points = state.route.points
        if not points or not points[0][3].is_junction:
            return None
        for index, light in state.route.lights_across(self.signals):
            if not all(p[3].is_junction for p in points[:index + 1]):
                break  # past the junctions: the next approach's lights apply
            if light.state == carla.TrafficLightState.Green or self._ignores(state, light.id, state.ignore_lights):
                continue
            distance = min(math.hypot(w.transform.location.x - x, w.transform.location.y - y)
                           for w in light.signal.stops) - state.vehicle.bounding_box.extent.x
            if distance <= 0.0 or light.state != carla.TrafficLightState.Red and distance < speed * speed / (2 * DECEL):
                continue  # on or past the line, or too close to stop at yellow
            here = points[0][3].junction_id
            for junction in {p[3].junction_id for p in points[index + 1:] if p[3].is_junction} - {here}:
                self._release(state, junction)
            state.wait("", "light", light=light)
            return max(distance - 1.0, 0.0)
        return None

    def _chain_of(self, state: "AutopilotState", entry: int) -> list[tuple[int, tuple[int, int], int]]:
        """:meth:`_chain` of the vehicle's route, kept until the route changes."""
        route = state.route
        cached = self._chains.get(state.vehicle.id)
        if cached is None or cached[0] is not route or cached[1] != route.version or cached[2] != entry:
            cached = self._chains[state.vehicle.id] = (route, route.version, entry, self._chain(route, entry))
        return cached[3]

    def _chain(self, route, entry: int) -> list[tuple[int, tuple[int, int], int]]:
        """The junctions the route drives through from ``entry`` with less than
        :data:`CHAIN_GAP` between them (one is never entered without room in the next):
        (junction id, connecting lane key, index of the first point after it)."""
        points, chain, k = route.points, [], entry
        while k < len(points):
            junction = points[k][3].junction_id
            connector = self.paths.register(points[k][3])
            exit_index = k
            while exit_index < len(points) and points[exit_index][3].is_junction \
                    and points[exit_index][3].junction_id == junction:
                exit_index += 1
            chain.append((junction, connector, exit_index))
            following = next((n for n in range(exit_index, len(points)) if points[n][3].is_junction), None)
            if following is None or (following - exit_index) * 2.0 > CHAIN_GAP:
                break
            k = following
        return chain

    def _ignores(self, state: "AutopilotState", actor_id: int, percentage: float) -> bool:
        if actor_id not in state.ignoring:
            state.ignoring[actor_id] = percentage > 0.0 and self.rng.uniform(0.0, 100.0) < percentage
        return state.ignoring[actor_id]

    def _may_enter(self, state: "AutopilotState", chain: list, now: float, speed: float,
                   room_after: Callable[[int], float], coming: Callable[[int], int | None]) -> bool:
        me = state.vehicle.id
        if all(junction in state.holding for junction, _, _ in chain):
            idle = now - max(state.moved_at, state.held_since)
            if speed < 0.1 and not state.route.points[0][3].is_junction and idle > IDLE_RELEASE:
                self.release(state)  # waiting outside for too long: let the others go first
                state.held_since = now
                state.wait("let the others go", "junction")
                return False
            return True
        last_exit = chain[-1][2]
        if last_exit < len(state.route.points) and room_after(last_exit) < state.vehicle.bounding_box.extent.x * 2.0 + 1.0:
            state.wait(f"room after junction {chain[-1][0]}", "room")
            self._release_outside(state)
            return False  # no room beyond the junction: do not block it
        width = state.vehicle.bounding_box.extent.y
        # how long it has waited at each junction of the chain (a refusal at any of them keeps its place at all)
        sinces = [self._since(junction, me, now) for junction, _, _ in chain]
        other = coming(last_exit)
        if other is not None:  # (it keeps its place: the vehicles it waited longer than give way to it in the gap)
            self._keep_waiting(chain, sinces, me, width, now, chain[0][0])
            state.wait(f"junction {chain[0][0]}: vehicle {other} coming across", "junction")
            self._release_outside(state)
            return False
        for (junction, connector, _), since in zip(chain, sinces):
            holders = self.holders.setdefault(junction, {})
            blocking = [holder for holder, (held, held_width) in holders.items()
                        if holder != me and self.paths.conflict(connector, width, held, held_width)
                        and not self._past_conflict(holder, held, held_width, connector, width)]
            if blocking:
                self._keep_waiting(chain, sinces, me, width, now, junction)
                state.wait(f"junction {junction} held by {blocking}", "junction", blocking[0])
                self._release_outside(state)
                return False
            first = [other for other, (lane, other_width, other_since, here, _) in self.waiters.get(junction, {}).items()
                     if other != me and now - here < STALE_WAIT and other_since < since - FAIR_WAIT
                     and self.paths.conflict(connector, width, lane, other_width)]
            if first:
                self._keep_waiting(chain, sinces, me, width, now, junction)
                state.wait(f"junction {junction}: gives way to {first}, waiting longer", "junction", first[0])
                self._release_outside(state)
                return False
        self._holding_states[me] = state
        for junction, connector, _ in chain:
            self.holders[junction][me] = (connector, width)
            self.waiters.get(junction, {}).pop(me, None)
            state.holding.add(junction)
        state.held_since = now
        return True

    def _since(self, junction: int, me: int, now: float) -> float:
        """Since when vehicle ``me`` has waited for ``junction`` (now, if it was not refused lately)."""
        record = self.waiters.get(junction, {}).get(me)
        return record[2] if record is not None and now - record[4] < STALE_WAIT else now

    def _keep_waiting(self, chain: list, sinces: list[float], me: int, width: float, now: float, refused: int) -> None:
        """Record a vehicle refused at junction ``refused`` as waiting at every junction of its chain (each
        since when it began: it keeps its place at all of them), refused at that one."""
        for (junction, connector, _), since in zip(chain, sinces):
            waiting = self.waiters.setdefault(junction, {})
            here = now if junction == refused else (waiting[me][3] if me in waiting else -math.inf)
            waiting[me] = (connector, width, since, here, now)

    def _past_conflict(self, holder: int, held: tuple[int, int], held_width: float, connector: tuple[int, int],
                       width: float) -> bool:
        """Whether a holder's rear is past every point of its path near ``connector``'s (long junctions:
        a vehicle crossing behind one that has gone by need not wait for it to leave the junction)."""
        state = self._holding_states.get(holder)
        if state is None or not state.vehicle.is_alive:
            return False
        at = state.vehicle.get_location()
        rear = self.paths.progress(held, at.x, at.y) - state.vehicle.bounding_box.extent.x
        return rear > self.paths.clear_after(connector, width, held, held_width)

    def _release_outside(self, state: "AutopilotState") -> None:
        """A vehicle refused its chain of junctions gives up what it holds unless it is already in one:
        all of a chain or nothing, never one held while waiting for the next."""
        if not state.route.points[0][3].is_junction:
            self.release(state)

    def _leave_passed(self, state: "AutopilotState") -> None:
        """Give up each junction the vehicle held once it is neither in it nor about to enter it (and forget
        its stop there: a route that comes back to the junction stops at its sign again)."""
        if state.stopped_at is not None and state.stopped_at[0] not in state.route.junction_ids:
            state.stopped_at = None
        if not state.holding:
            return
        on_route = state.route.junction_ids
        for junction in [j for j in state.holding if j not in on_route]:
            self._release(state, junction)

    def _release(self, state: "AutopilotState", junction: int) -> None:
        if junction in state.holding:
            self.holders.get(junction, {}).pop(state.vehicle.id, None)
            state.holding.discard(junction)
            if not state.holding:
                self._holding_states.pop(state.vehicle.id, None)

    def release(self, state: "AutopilotState") -> None:
        """Leave every junction the vehicle holds."""
        for junction in list(state.holding):
            self._release(state, junction)

    def forget(self, vehicle_ids: set[int]) -> None:
        """Drop the holds of vehicles no longer driven by this traffic manager."""
        for table in [*self.holders.values(), *self.waiters.values(), self._chains, self._holding_states]:
            for vehicle_id in [v for v in table if v not in vehicle_ids]:
                table.pop(vehicle_id)
