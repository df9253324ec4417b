"""Randomisation for policies that generalise: a world's town drawn again while its heroes respawn
(``town_change_steps``), hero blueprints drawn per episode, background counts drawn from ranges, traffic-light times
drawn per light group (``light_times``), all seeded."""

import numpy as np
import pytest

from rllib_integration import CarlaEnv, CarlaVectorEnv, ConfigError
from rllib_integration.shared_world import TOWN_CHANGE
from test_env import PoseExperiment

BLUEPRINTS = ["vehicle.audi.a2", "vehicle.tesla.model3", "vehicle.lincoln.mkz_2017"]


def config(experiment=PoseExperiment, **experiment_config):
    return {"carla": {"simulator": "embedded", "timeout": 2.0, "enable_rendering": False},
            "experiment": {"type": experiment, "town": "GridTown", **experiment_config}}


def route_config(**experiment_config):
    """The PPO example's virtual-LiDAR route experiment (it has a batched twin)."""
    from ppo_example.ppo_experiment import RouteExperiment
    return config(RouteExperiment, hero={"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 8}}},
                  **experiment_config)


def lights_by_group(world):
    """Each light group's (green, yellow, red) times, a set of them per group."""
    lights = world.get_actors().filter("traffic.traffic_light*")
    groups = {}
    for light in lights:
        key = min(member.id for member in light.get_group_traffic_lights() or [light])
        groups.setdefault(key, set()).add((light.get_green_time(), light.get_yellow_time(), light.get_red_time()))
    return groups


@pytest.mark.parametrize("batched", [True, False])
def test_a_town_change_truncates_every_driving_hero_then_draws_the_town_as_all_respawn(batched):
    experiment = route_config(town=["GridTown", "RingTown"], town_change_steps=6, heroes=4, batched=batched) \
        if batched else config(town=["GridTown", "RingTown"], town_change_steps=6, heroes=4, batched=False,
                               others={"max_steps": 1000})
    env = CarlaVectorEnv(experiment, num_envs=4)
    try:
        env.action_space.seed(3)
        env.reset(seed=3)
        world = env.world
        assert (world.batch is not None) == batched
        towns, changes = [world.core.town], 0
        for step in range(1, 40):
            before = world.town_changes
            _, rewards, terminated, truncated, infos = env.step(env.action_space.sample())
            reasons = infos.get("end_reason", np.full(4, None, dtype=object))
            if (reasons == TOWN_CHANGE).any():
                changes += 1
                going = reasons == TOWN_CHANGE
                assert (truncated[going] & ~terminated[going]).all(), "a town change truncates"
                assert (terminated | truncated).all(), "every hero's episode ends at the town change's step"
                _, rewards, terminated, truncated, infos = env.step(env.action_space.sample())
                assert world.town_changes == before + 1, "the next step, where every hero respawns, draws the town"
                assert (rewards == 0).all() and not (terminated | truncated).any(), "every hero starts again"
                towns.append(world.core.town)
                assert all(agent.hero.is_alive for agent in world.agents)
                assert {agent.hero.get_world().get_map().name for agent in world.agents} == {world.core.map.name}
        assert changes >= 4, f"a change every 6 steps or so, {changes} in 40"
        assert set(towns) == {"GridTown", "RingTown"}, f"both towns drawn: {towns}"
    finally:
        env.close()


def test_town_changes_are_seeded():
    def towns(seed):
        env = CarlaVectorEnv(route_config(town=["GridTown", "RingTown", "Boulevards"], town_change_steps=4,
                                          heroes=2), num_envs=2)
        try:
            env.action_space.seed(seed)
            env.reset(seed=seed)
            drawn = []
            for _ in range(30):
                env.step(env.action_space.sample())
                drawn.append(env.world.core.town)
            return drawn
        finally:
            env.close()

    first = towns(5)
    assert first == towns(5) and len(set(first)) > 1


def test_hero_blueprints_are_drawn_per_episode_from_the_list():
    env = CarlaVectorEnv(config(hero={"blueprint": BLUEPRINTS}, heroes=6, others={"max_steps": 3}), num_envs=6)
    try:
        env.reset(seed=1)
        seen = []
        for _ in range(12):
            seen += [agent.hero.type_id for agent in env.world.agents]
            env.step(np.zeros(6, dtype=np.int64))
        assert set(seen) == set(BLUEPRINTS), "every blueprint of the list drives some episodes"
    finally:
        env.close()


def test_an_empty_blueprint_list_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"hero\.blueprint: an empty list"):
        CarlaEnv(config(hero={"blueprint": []})).reset(seed=0)


def test_light_times_are_drawn_per_group_within_their_ranges_at_every_draw_of_the_town():
    times = {"green": [5.0, 20.0], "yellow": [2.0, 4.0], "red": []}
    env = CarlaEnv(config(light_times=times, others={"max_steps": 2}))
    try:
        env.reset(seed=4)
        world = env.core.world
        first = lights_by_group(world)
        assert len(first) > 3
        for members in first.values():
            assert len(members) == 1, "a group's lights share one draw"
            green, yellow, red = next(iter(members))
            assert 5.0 <= green <= 20.0 and 2.0 <= yellow <= 4.0
        assert len({next(iter(m))[0] for m in first.values()}) == len(first), "each group draws its own"
        reds = {next(iter(m))[2] for m in first.values()}
        assert len(reds) == 1, "a phase given as [] keeps the simulator's time"
        env.reset(seed=5)
        assert lights_by_group(env.core.world) != first, "a new episode draws again"
        env.reset(seed=4)
        assert lights_by_group(env.core.world) == first, "the same seed, the same times"
    finally:
        env.close()


def test_background_counts_are_drawn_from_their_ranges_at_each_spawn():
    background = {"n_vehicles": [2, 12], "n_walkers": [0, 3], "seed": 9, "respawn_per_episode": True}
    env = CarlaEnv(config(background_activity=background, others={"max_steps": 2}))
    try:
        counts = []
        for episode in range(6):
            env.reset(seed=episode)
            actors = env.core.world.get_actors()
            vehicles = [a for a in actors.filter("vehicle.*") if a.attributes.get("role_name") == "autopilot"]
            counts.append((len(vehicles), len(actors.filter("walker.pedestrian.*"))))
        assert all(2 <= v <= 12 and 0 <= w <= 3 for v, w in counts)
        assert len({v for v, _ in counts}) > 1, f"the counts vary: {counts}"
    finally:
        env.close()


@pytest.mark.parametrize("key, value, message", [
    ("background_activity", {"n_vehicles": [5, 2]}, r"n_vehicles: \[5, 2\] is not a range \[low, high\]"),
    ("background_activity", {"n_vehicles": [1.5, 2]}, r"of whole numbers"),
    ("background_activity", {"n_walkers": [0, 5000]}, r"n_walkers: 5000 is out of range"),
    ("light_times", {"green": [10.0]}, r"light_times\.green: \[10\.0\] is not a range"),
    ("light_times", {"red": [0.0, 3.0]}, r"light_times\.red: 0\.0 is out of range"),
    ("light_times", {"blue": [1.0, 2.0]}, r"light_times\.blue: unknown key"),
    ("light_times", {"green": 10}, r"light_times\.green: expected a range \[low, high\], got int 10"),
    ("town_change_steps", -1, r"town_change_steps: -1 is out of range"),
    ("town_change_steps", 2.5, r"town_change_steps: expected an integer"),
])
def test_bad_randomisation_settings_are_one_clear_error(key, value, message):
    with pytest.raises(ConfigError, match=message):
        CarlaEnv(config(**{key: value}))


def test_a_town_without_sidewalks_is_said_once_however_often_it_is_drawn(caplog):
    import logging
    env = CarlaEnv(config(town=["RandomTown9", "GridTown"], background_activity={"n_walkers": 2, "seed": 0},
                          others={"max_steps": 1}))
    try:
        with caplog.at_level(logging.WARNING, logger="rllib_integration.background_traffic"):
            towns = []
            for seed in range(8):
                env.reset(seed=seed)
                towns.append(env.core.town)
        assert towns.count("RandomTown9") >= 2 and "GridTown" in towns, towns
        said = [r for r in caplog.records if "RandomTown9 has no sidewalks" in r.getMessage()]
        assert len(said) == 1, "once a town, not at every load"
    finally:
        env.close()
