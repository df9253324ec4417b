"""The sensor classes: ``BaseSensor``, ``CarlaSensor`` (a simulator sensor actor) and
``PseudoSensor`` (computed in Python from the world, e.g. the BirdView), one subclass per type.

A sensor is configured as in the original project::

    hero:
      sensors:
        <name>: {type: <blueprint id>, transform: "x,y,z,roll,pitch,yaw", <attribute>: <value>}

Attributes go to the blueprint, except the sensor's own options (:attr:`CarlaSensor.OPTIONS`),
which change how data is parsed (``depth_in_meters``, ``palette``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import carla

from ..errors import ConfigError
from . import parsers
from .sensor_interface import SensorInterface


#: Ranges ``(lowest, highest)`` of the numeric attributes of CARLA's sensor blueprints.
ATTRIBUTE_RANGES: dict[str, tuple[float, float]] = {
    "image_size_x": (1, 8192), "image_size_y": (1, 8192), "fov": (1.0, 179.0), "sensor_tick": (0.0, 3600.0),
    "range": (0.1, 10000.0), "channels": (1, 1024), "points_per_second": (1, 10 ** 8),
    "rotation_frequency": (0.1, 1000.0), "upper_fov": (-90.0, 90.0), "lower_fov": (-90.0, 90.0),
    "horizontal_fov": (0.1, 360.0), "vertical_fov": (0.1, 180.0), "distance": (0.0, 10000.0),
    "hit_radius": (0.0, 100.0), "dropoff_general_rate": (0.0, 1.0), "noise_stddev": (0.0, 100.0),
}
MAX_TRANSFORM = 1000.0  # metres from the parent: a sensor farther away is a typo


def parse_transform(value: Any, where: str) -> carla.Transform:
    """A transform from ``"x,y,z,roll,pitch,yaw"`` or a list of 6 numbers (finite, within
    :data:`MAX_TRANSFORM` metres)."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        x, y, z, roll, pitch, yaw = (float(part) for part in parts)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a transform. Fix: write "
                          f"\"x,y,z,roll,pitch,yaw\" (metres, degrees).") from None
    if not all(math.isfinite(v) for v in (x, y, z, roll, pitch, yaw)) or max(abs(x), abs(y), abs(z)) > MAX_TRANSFORM:
        raise ConfigError(f"{where}: {value!r} is not a usable transform. Fix: give finite numbers, the location "
                          f"within {MAX_TRANSFORM:g} m of the vehicle.")
    return carla.Transform(carla.Location(x, y, z), carla.Rotation(pitch=pitch, yaw=yaw, roll=roll))


def check_number(where: str, value: Any, low: float, high: float, whole: bool = False) -> float:
    """``value`` (a number, or a string of one, as blueprint attributes are) within ``[low, high]``."""
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or not low <= number <= high or whole and number != int(number):
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{where}: expected {kind} from {low:g} to {high:g}, got {value!r}. Fix: use a value "
                          f"in that range.")
    return number


class BaseSensor:
    """A named sensor registered with a :class:`SensorInterface`."""

    #: Event sensors deliver zero or more items per tick (a list); others one item per frame.
    EVENT = False

    @classmethod
    def check(cls, where: str, attributes: Mapping[str, Any]) -> None:
        """Check the attributes before a simulator runs (``where``: their key path); raises ``ConfigError``."""

    def __init__(self, name: str, attributes: Mapping[str, Any], interface: SensorInterface,
                 parent: Any) -> None:
        self.name = name
        self.attributes = dict(attributes)
        self.interface = interface
        self.parent = parent
        self.periodic = float(self.attributes.get("sensor_tick", 0) or 0) > 0
        interface.register(name, self)

    def is_event_sensor(self) -> bool:
        return self.EVENT

    def parse(self, data: Any) -> Any:
        """Convert a measurement to the sensor's output format."""
        raise NotImplementedError

    def prepare(self, frame: int) -> None:
        """Called when the interface collects ``frame``, before it waits for the data."""

    def update_sensor(self, data: Any, frame: int) -> None:
        self.interface.update(self.name, frame, self.parse(data))

    def callback(self, data: Any) -> None:
        self.update_sensor(data, data.frame)

    def destroy(self) -> None:
        """Release what the sensor holds."""


class CarlaSensor(BaseSensor):
    """A sensor actor of the simulator, attached to ``parent``."""

    #: Options read by the parser (not blueprint attributes), with their defaults.
    OPTIONS: dict[str, Any] = {}

    @classmethod
    def check(cls, where: str, attributes: Mapping[str, Any]) -> None:
        """What can be checked before a simulator runs: the transform and the numeric attributes' ranges
        (the blueprint checks the attribute names when the sensor spawns)."""
        parse_transform(attributes.get("transform", "0,0,0,0,0,0"), f"{where}.transform")
        for key, value in attributes.items():
            if key in ATTRIBUTE_RANGES:
                check_number(f"{where}.{key}", value, *ATTRIBUTE_RANGES[key], whole=key.startswith("image_size")
                             or key in ("channels", "points_per_second"))

    def __init__(self, name: str, attributes: Mapping[str, Any], interface: SensorInterface,
                 parent: Any) -> None:
        super().__init__(name, attributes, interface, parent)
        where = f"env_config.experiment.hero.sensors.{name}"
        self.check(where, self.attributes)
        attributes = dict(self.attributes)
        sensor_type = attributes.pop("type")
        transform = parse_transform(attributes.pop("transform", "0,0,0,0,0,0"), f"{where}.transform")
        self.options = {key: attributes.pop(key, default) for key, default in self.OPTIONS.items()}
        world = parent.get_world()
        try:
            blueprint = world.get_blueprint_library().find(sensor_type)
        except IndexError:
            raise ConfigError(f"{where}.type: no blueprint '{sensor_type}' in this simulator. Fix: "
                              f"use a sensor.* id of the blueprint library.") from None
        if blueprint.has_attribute("role_name"):
            blueprint.set_attribute("role_name", name)
        for key, value in attributes.items():
            if not blueprint.has_attribute(key):
                valid = ", ".join(sorted(a.id for a in blueprint)) or "none"
                raise ConfigError(f"{where}.{key}: '{sensor_type}' has no attribute '{key}'. Fix: use "
                                  f"one of {valid}" + (f", or options {', '.join(self.OPTIONS)}"
                                                       if self.OPTIONS else "") + ".")
            blueprint.set_attribute(key, str(value).lower() if isinstance(value, bool) else str(value))
        try:
            self.sensor = world.spawn_actor(blueprint, transform, attach_to=parent)
        except RuntimeError as error:
            raise RuntimeError(f"{where}: {error}") from None
        self.sensor.listen(self.callback)

    def destroy(self) -> None:
        sensor, self.sensor = getattr(self, "sensor", None), None
        if sensor is not None and sensor.is_alive:
            sensor.stop()
            sensor.destroy()


class PseudoSensor(BaseSensor):
    """A sensor computed in Python; :meth:`compute` runs when the interface collects a frame. Its
    configuration may hold ``type`` and :attr:`ATTRIBUTES` only (checked on creation; ``self.where`` is
    its key path for error messages)."""

    #: Name used in error messages, and the attributes the sensor accepts besides ``type``.
    KIND = "pseudo-sensor"
    ATTRIBUTES: frozenset[str] = frozenset()

    def __init__(self, name: str, attributes: Mapping[str, Any], interface: SensorInterface,
                 parent: Any) -> None:
        super().__init__(name, attributes, interface, parent)
        self.where = f"env_config.experiment.hero.sensors.{name}"
        self.check(self.where, self.attributes)

    @classmethod
    def check(cls, where: str, attributes: Mapping[str, Any]) -> None:
        """The attribute names, then :meth:`check_attributes`; raises :class:`ConfigError`."""
        unknown = set(attributes) - cls.ATTRIBUTES - {"type"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: not a {cls.KIND} attribute. Fix: use "
                              f"{', '.join(sorted(cls.ATTRIBUTES))}.")
        cls.check_attributes(where, attributes)

    @classmethod
    def check_attributes(cls, where: str, attributes: Mapping[str, Any]) -> None:
        """The attribute values (a subclass's checks)."""

    def prepare(self, frame: int) -> None:
        self.compute(frame)

    def compute(self, frame: int) -> None:
        """Produce this frame's data (``self.update_sensor(data, frame)``)."""
        raise NotImplementedError


class CameraRGB(CarlaSensor):
    def parse(self, data):
        return parsers.image_rgb(data)


class CameraDepth(CarlaSensor):
    """Raw encoded RGB, or metres with ``depth_in_meters: true``."""

    OPTIONS = {"depth_in_meters": False}

    def parse(self, data):
        rgb = parsers.image_rgb(data)
        return parsers.depth_to_meters(rgb) if self.options["depth_in_meters"] else rgb


class CameraSemanticSegmentation(CarlaSensor):
    """Raw RGB (tag in red), or CityScapes colours with ``palette: true``."""

    OPTIONS = {"palette": False}

    def parse(self, data):
        rgb = parsers.image_rgb(data)
        return parsers.semantic_palette(parsers.semantic_tags(rgb)) if self.options["palette"] else rgb


class CameraInstanceSegmentation(CameraRGB):
    """Raw RGB: the semantic tag in red, the actor id in green (low byte) and blue (high byte)."""


class CameraNormals(CameraRGB):
    """Raw RGB: the surface normal in the camera frame, each axis mapped to 0-255."""


class CameraOpticalFlow(CarlaSensor):
    """float32 ``(H, W, 2)``: each pixel's motion since the last frame, normalised screen coordinates."""

    def parse(self, data):
        return parsers.optical_flow(data)


class CameraDVS(CarlaSensor):
    EVENT = True

    def parse(self, data):
        return parsers.dvs_image(data, data.width, data.height)


def _simple(parse: Callable[[Any], Any], event: bool = False) -> type[CarlaSensor]:
    return type(parse.__name__.title().replace("_", ""), (CarlaSensor,),
                {"EVENT": event, "parse": lambda self, data: parse(data)})


Lidar = _simple(parsers.lidar)
SemanticLidar = _simple(parsers.semantic_lidar)
Radar = _simple(parsers.radar)
Gnss = _simple(parsers.gnss)
Imu = _simple(parsers.imu)
Collision = _simple(parsers.collision, event=True)
LaneInvasion = _simple(parsers.lane_invasion, event=True)
Obstacle = _simple(parsers.obstacle, event=True)
