"""The batched path of many heroes (:mod:`rllib_integration.batch_experiment`): ``CarlaVectorEnv`` stepping a world
through ``RouteExperimentBatch`` gives, step for step, what the heroes' own ``RouteExperiment`` hooks give (the same
observations, rewards, ends and infos, through collisions, red lights, leaving the lanes and respawns), with the
embedded world's one-call reads and with the actor-by-actor reads a CARLA server gets; configurations it does not
take, and subclasses, run hero by hero."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppo_example.ppo_batch import RouteExperimentBatch, commands_ahead
from ppo_example.ppo_experiment import COMMANDS, RouteExperiment
from rllib_integration import CarlaVectorEnv, EnvUsageError, MultiAgentCarlaEnv
from rllib_integration.batch_experiment import every_row, everyone
from rllib_integration.routes.planner import RoadOption


def route_config(heroes: int = 8, **others) -> dict:
    return {"carla": {"simulator": "embedded", "enable_rendering": False},
            "experiment": {"type": RouteExperiment, "town": "RingTown", "heroes": heroes,
                           "hero": {"sensors": {"vlidar": {"type": "sensor.virtual_lidar", "rays": 16}}},
                           "background_activity": {"n_vehicles": 30, "n_walkers": 6, "seed": 0},
                           "others": {"route_length": [60, 150], "max_idle_s": 3, "overspeed_end": 10, **others}}}


def assert_same_step(batched, by_hero, step):
    for name, a, b in zip(("observations", "rewards", "terminated", "truncated"), batched[:4], by_hero[:4]):
        assert a.dtype == b.dtype and np.array_equal(a, b), (step, name, np.argwhere(a != b)[:5])
    infos_a, infos_b = batched[4], by_hero[4]
    assert set(infos_a) == set(infos_b), (step, set(infos_a) ^ set(infos_b))
    for key, value in infos_a.items():
        assert value.dtype == infos_b[key].dtype, (step, key)
        assert list(value) == list(infos_b[key]) if value.dtype == object else np.array_equal(value, infos_b[key]), \
            (step, key, value, infos_b[key])


class ActorByActorWorld:
    """The embedded world without its one-call reads and writes (``vehicle_kinematics``, ``actor_poses``,
    ``actor_locations``, ``apply_vehicle_controls``): the batch reads each hero and actor and applies each control
    through the carla API, as on a CARLA server."""

    def __init__(self, world):
        self._world = world

    def __getattr__(self, name):
        if name in ("vehicle_kinematics", "actor_poses", "actor_locations", "apply_vehicle_controls"):
            raise AttributeError(name)
        return getattr(self._world, name)


#: The traffic recipe's actions and features (ppo_traffic_config.yaml), and the target speed with a residual steer.
TRAFFIC = {"control": "levels", "steer": "route", "light_ahead": True, "obstacles_ahead": True,
           "state_last_action": False, "turn_lateral_accel": 3.0}
RESIDUAL = {"control": "speed", "steer": "residual", "turn_lateral_accel": 2.0}


def random_actions(env, rng):
    """Actions mostly forward and nearly straight, so the heroes meet cars and lights."""
    if env.single_action_space.shape == ():  # speed levels
        return rng.integers(2, env.single_action_space.n, env.num_envs)
    actions = rng.uniform(-1.0, 1.0, (env.num_envs, env.single_action_space.shape[0])).astype(np.float32)
    actions[:, 0] = 0.3 + 0.7 * np.abs(actions[:, 0])
    if actions.shape[1] > 1:
        actions[:, 1] *= 0.03
    return actions


@pytest.mark.parametrize("reads, others", [("one call", {}), ("actor by actor", {}), ("one call", TRAFFIC),
                                           ("one call", RESIDUAL)], ids=["throttle", "actor-by-actor", "traffic",
                                                                          "residual"])
def test_the_batch_steps_as_the_heroes_own_experiments_do(reads, others, monkeypatch):
    batched = CarlaVectorEnv(route_config(**others))
    by_hero = CarlaVectorEnv(dict(route_config(), experiment=dict(route_config(**others)["experiment"], batched=False)))
    try:
        assert isinstance(batched.world.batch, RouteExperimentBatch) and by_hero.world.batch is None
        assert "vlidar" not in batched.world.agents[0].sensor_interface.sensors, "the batch measures the rays itself"
        if reads == "actor by actor":
            core = batched.world.core
            monkeypatch.setattr(core, "world", ActorByActorWorld(core.world))
        first_a, first_b = batched.reset(seed=5), by_hero.reset(seed=5)
        assert np.array_equal(first_a[0], first_b[0]) and first_a[1].keys() == first_b[1].keys()
        rng = np.random.default_rng(1)
        reasons: dict[str, int] = {}
        for step in range(260 if reads == "one call" and not others else 100):
            actions = random_actions(batched, rng)
            a, b = batched.step(actions), by_hero.step(actions)
            assert batched.observation_space.contains(a[0]), "a batch of the single observation space"
            assert_same_step(a, b, step)
            if "end_reason" in a[4]:
                for reason in a[4]["end_reason"][a[4]["_end_reason"]]:
                    reasons[reason] = reasons.get(reason, 0) + 1
        assert sum(reasons.values()) >= 5 if not others else sum(reasons.values()) >= 1, reasons
        if reads == "one call" and not others:
            assert {"veh", "red", "outside_lanes"} <= set(reasons), reasons
    finally:
        batched.close()
        by_hero.close()


def test_heroes_whose_episodes_ended_together_are_respawned_by_a_step_in_which_nobody_acts():
    env = CarlaVectorEnv(route_config(heroes=2, max_idle_s=0.5))
    try:
        assert isinstance(env.world.batch, RouteExperimentBatch)
        env.reset(seed=0)
        ends = respawns_alone = 0
        for _ in range(80):  # braking: both idle out together (0.5 s), and the next step only respawns them
            observations, rewards, terminated, truncated, infos = env.step(np.array([[-1.0, 0.0]] * 2, np.float32))
            if np.asarray(infos.get("_simulator_restarts", [False, False])).all():  # both heroes' first observations
                assert not rewards.any() and not terminated.any() and "_speed" not in infos
                respawns_alone += 1
            ends += int((terminated | truncated).sum())
        assert ends >= 6 and respawns_alone >= 3
    finally:
        env.close()


def test_a_world_of_one_hero_runs_hero_by_hero():
    env = CarlaVectorEnv(route_config(heroes=1))
    try:
        assert env.world.batch is None, "a batch's costs a tick are a lone hero's whole step"
    finally:
        env.close()


def test_the_multi_agent_env_steps_through_the_batch_as_the_heroes_own_experiments_do():
    """MultiAgentCarlaEnv takes each hero's row of the batch: the same observations, rewards, ends and infos (Python
    values, as the hooks give them) as hero by hero, through respawns (agents_respawn)."""
    def config(batched: bool) -> dict:
        experiment = dict(route_config(heroes=4, route_length=[25, 50], max_idle_s=1, **TRAFFIC)["experiment"], batched=batched,
                          agents_respawn=True)
        return dict(route_config(), experiment=experiment)

    batched, by_hero = MultiAgentCarlaEnv(config(True)), MultiAgentCarlaEnv(config(False))
    try:
        assert isinstance(batched.heroes.world.batch, RouteExperimentBatch) and by_hero.heroes.world.batch is None
        (obs_a, infos_a), (obs_b, infos_b) = batched.reset(seed=4), by_hero.reset(seed=4)
        assert obs_a.keys() == obs_b.keys() and all(np.array_equal(obs_a[k], obs_b[k]) for k in obs_a)
        assert infos_a == infos_b
        rng, ended, levels = np.random.default_rng(0), 0, batched.action_spaces["hero_0"].n
        for step in range(320):
            actions = {agent: int(rng.integers(0, levels)) for agent in obs_a}
            (obs_a, *rest_a), (obs_b, *rest_b) = batched.step(actions), by_hero.step(actions)
            assert obs_a.keys() == obs_b.keys(), step
            for agent in obs_a:
                assert obs_a[agent].dtype == obs_b[agent].dtype and np.array_equal(obs_a[agent], obs_b[agent]), step
            for a, b in zip(rest_a, rest_b):  # rewards, terminateds, truncateds, infos; all terminated, truncated
                assert a == b, (step, a, b)
            for agent, info in rest_a[3].items():
                assert all(type(value) is type(rest_b[3][agent][key]) for key, value in info.items()), (step, info)
            ended += sum(rest_a[1].values()) + sum(rest_a[2].values())
            obs_a = {agent: o for agent, o in obs_a.items() if agent in batched.agents}
        assert ended >= 2
    finally:
        batched.close()
        by_hero.close()


def test_what_the_batch_does_not_take_runs_hero_by_hero(caplog):
    class Own(RouteExperiment):  # a subclass may change any hook: its heroes run hero by hero
        pass

    with caplog.at_level(logging.INFO):
        camera = {"camera": {"type": "sensor.camera.rgb", "image_size_x": 32, "image_size_y": 16}}
        for experiment, batched in ((dict(type=Own), None), (dict(batched=False), None),
                                    (dict(others={"observation": "camera"}, hero={"sensors": camera}), None),
                                    ({}, RouteExperimentBatch)):
            config = route_config(heroes=2)
            config["experiment"].update(experiment)
            if "others" in experiment:
                config["experiment"]["others"] = dict(route_config()["experiment"]["others"], **experiment["others"])
            env = CarlaVectorEnv(config)
            try:
                assert type(env.world.batch) is batched if batched else env.world.batch is None, experiment
            finally:
                env.close()
    assert "runs hero by hero (RouteExperimentBatch has no batch for observation camera)" in caplog.text


def test_a_batch_of_wrong_actions_is_one_clear_error():
    env = CarlaVectorEnv(route_config(heroes=2))
    try:
        env.reset(seed=0)
        with pytest.raises(EnvUsageError, match=r"actions of shape \(2,\) are not a batch of Box"):
            env.step(np.zeros(2, np.float32))
        with pytest.raises(EnvUsageError, match="not a batch"):
            env.step(np.full((2, 2), 3.0, np.float32))
    finally:
        env.close()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_batch_of_actions_is_checked_as_the_spaces_contains_checks_it(data):
    """The vector env's compiled check of a batch of actions (``action_bounds``, ``_within``) answers as gymnasium's
    ``contains``: MultiDiscrete with a start, Box with infinite and finite bounds, values at, inside and past the
    bounds, NaN."""
    from gymnasium.spaces import Box, MultiDiscrete
    from gymnasium.vector.utils import batch_space

    from rllib_integration.vector_env import _within, action_bounds

    heroes = data.draw(st.integers(1, 6))
    if data.draw(st.booleans()):
        nvec = np.array(data.draw(st.lists(st.integers(1, 9), min_size=2, max_size=2)))
        start = np.array(data.draw(st.lists(st.integers(-3, 3), min_size=2, max_size=2)))
        space = batch_space(MultiDiscrete(nvec, start=start), heroes)
        values = np.array(data.draw(st.lists(st.integers(-5, 12), min_size=2 * heroes, max_size=2 * heroes)),
                          dtype=space.dtype).reshape(space.shape)
    else:
        low = np.array([-1.0, -np.inf], dtype=np.float32)
        space = batch_space(Box(low, np.array([1.0, 2.5], dtype=np.float32), dtype=np.float32), heroes)
        edges = st.sampled_from([-1.0, 1.0, 2.5, -np.inf, np.inf, np.nan, -0.0, np.nextafter(np.float32(1.0), 2.0)])
        values = np.array(data.draw(st.lists(st.one_of(edges, st.floats(-3, 3, width=32)), min_size=2 * heroes,
                                             max_size=2 * heroes)), dtype=np.float32).reshape(space.shape)
    low, high = action_bounds(space)
    assert _within(values.reshape(-1), low, high) == space.contains(values)


def test_the_command_ahead_is_the_next_turn_within_the_lookahead():
    follow, left = RoadOption.LANEFOLLOW, RoadOption.LEFT
    options = [follow] * 40 + [left] * 5 + [follow] * 10
    commands = commands_ahead(options)
    assert commands[15] == COMMANDS.index(left), "the 25 points after point 15 reach the turn at point 40"
    assert commands[14] == COMMANDS.index(follow) and commands[44] == COMMANDS.index(follow)
    assert commands[39] == COMMANDS.index(left) and commands[-1] == COMMANDS.index(follow)


def test_a_worlds_roster_follows_its_heroes_through_respawns():
    """The lists a batched step reads (each hero's actor, id and route, kept between steps) are the agents' own after
    every step, respawns and retirements included, and are read again only when a hero or a route changed."""
    env = CarlaVectorEnv(route_config(heroes=2, max_idle_s=0.5))
    try:
        roster, agents = env.world.batch.roster, env.world.agents
        env.reset(seed=0)
        seen, rereads, respawns = set(), 0, 0
        for _ in range(40):  # braking: both idle out (0.5 s) and respawn, again and again
            before = roster.read()
            env.step(np.array([[-1.0, 0.0]] * 2, np.float32))
            view = roster.read()
            rereads += view is not before
            respawns += view.ids != before.ids
            assert view.heroes == [agent.hero for agent in agents]
            assert view.ids == tuple(agent.hero.id for agent in agents)
            assert all(a is b for a, b in zip(view.progresses, [agent.route_progress for agent in agents]))
            seen.update(view.ids)
        assert len(seen) >= 6, "heroes were respawned (new actors, new ids)"
        assert rereads == respawns >= 2, "read again after the steps that respawned heroes, and only then"
        env.world.retire(1)
        view = roster.read()
        assert view.heroes[1] is None and view.ids[1] == -1 and view.progresses[1] is None
        assert [state is agents[0] for state in view.following] == [True]
    finally:
        env.close()


@given(st.lists(st.integers(0, 9), max_size=10), st.integers(0, 10))
def test_every_row_is_every_hero_in_order_whatever_array_says_so(rows, count):
    """``every_row`` answers whether a batch's rows are every hero of a world in order: for the array ``everyone``
    hands out (known by identity) as for any other array of the same numbers."""
    rows = np.array(rows, dtype=np.int64)
    assert every_row(rows, count) == (rows.tolist() == list(range(count)))
    assert every_row(everyone(count), count) and everyone(count) is everyone(count)
    assert every_row(everyone(count), count + 1) is False
    assert not everyone(count).flags.writeable
