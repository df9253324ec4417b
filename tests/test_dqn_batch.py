"""The DQN experiment's batched twin (``dqn_example/dqn_batch.py``): ``CarlaVectorEnv`` stepping a world through
``DQNExperimentBatch`` gives, step for step, what the heroes' own ``DQNExperiment`` hooks give (the same BirdView
frame stacks, state vectors, rewards, ends and infos, among traffic, through collisions, idling, red lights and
respawns); the original's reward runs hero by hero."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dqn_example.dqn_batch import DQNExperimentBatch, place_frames, shift_frames
from dqn_example.dqn_experiment import ACTIONS, DQNExperiment
from rllib_integration import CarlaVectorEnv

from tests.test_batch_experiment import assert_same_step

#: The traffic recipe's options (dqn_traffic_config.yaml).
TRAFFIC = {"red_light_ends": True, "excused_waits": True, "light_ahead": True}
#: Mostly forward, nearly straight actions (so the heroes meet cars and lights), some braking and coasting.
FORWARD = [index for index, (throttle, steer, _) in enumerate(ACTIONS) if throttle > 0 and abs(steer) <= 0.25]
SLOW = [0, 1]


def dqn_config(heroes: int = 6, birdview: dict | None = None, **others) -> dict:
    return {"carla": {"simulator": "embedded", "enable_rendering": False},
            "experiment": {"type": DQNExperiment, "town": "RingTown", "heroes": heroes,
                           "hero": {"sensors": {"birdview": {"type": "sensor.birdview", "size": 32, "radius": 16,
                                                             "route": True, **(birdview or {})},
                                                "collision": {"type": "sensor.other.collision"}}},
                           "background_activity": {"n_vehicles": 25, "n_walkers": 6, "seed": 0},
                           "others": {"framestack": 2, "reward": "route", "state_input": True, "max_time_idle": 20,
                                      "route_length": [60, 150], "max_time_episode": 150, **others}}}


def actions(rng: np.random.Generator, count: int) -> np.ndarray:
    return np.where(rng.random(count) < 0.8, rng.choice(FORWARD, count), rng.choice(SLOW, count))


@pytest.mark.parametrize("birdview, others", [({}, {}), ({"output": "masks"}, TRAFFIC),
                                              ({}, {"state_input": False, "framestack": 3})],
                         ids=["quickstart", "traffic-masks", "image-only"])
def test_the_batch_steps_as_the_heroes_own_experiments_do(birdview, others):
    config = dqn_config(birdview=birdview, **others)
    batched = CarlaVectorEnv(config)
    by_hero = CarlaVectorEnv(dict(config, experiment=dict(config["experiment"], batched=False)))
    try:
        assert isinstance(batched.world.batch, DQNExperimentBatch) and by_hero.world.batch is None
        assert "birdview" not in batched.world.agents[0].sensor_interface.sensors, "the batch renders it itself"
        first_a, first_b = batched.reset(seed=3), by_hero.reset(seed=3)
        for a, b in ([(first_a[0], first_b[0])] if others.get("state_input", True) is False else
                     [(first_a[0][key], first_b[0][key]) for key in ("image", "state")]):
            assert np.array_equal(a, b)
        assert first_a[1].keys() == first_b[1].keys()
        rng = np.random.default_rng(2)
        reasons: dict[str, int] = {}
        handed_out = []  # each step's observations and a copy: a batch handed out is never written again
        infos_out = []  # and its infos (the batch's own arrays, handed out as they are)
        for step in range(160):
            chosen = actions(rng, batched.num_envs)
            a, b = batched.step(chosen), by_hero.step(chosen)
            assert batched.observation_space.contains(a[0]), "a batch of the single observation space"
            handed_out.append((a[0], copy.deepcopy(a[0])))
            infos_out.append((a[4], copy.deepcopy(a[4])))
            if isinstance(a[0], dict):
                for key in a[0]:
                    assert np.array_equal(a[0][key], b[0][key]), (step, key)
                a, b = (np.zeros(1), *a[1:]), (np.zeros(1), *b[1:])  # the observations compared above
            assert_same_step(a, b, step)
            if "end_reason" in a[4]:
                for reason in a[4]["end_reason"][a[4]["_end_reason"]]:
                    reasons[reason] = reasons.get(reason, 0) + 1
        assert {"veh", "off_route", "outside_lanes", "overspeed", "max_time"} <= set(reasons), reasons
        for step, (given, kept) in enumerate(handed_out):
            for key in (given if isinstance(given, dict) else [None]):
                assert np.array_equal(given[key] if key else given, kept[key] if key else kept), (step, key)
        for step, (given, kept) in enumerate(infos_out):
            assert given.keys() == kept.keys(), step
            for key, values in given.items():
                assert list(values) == list(kept[key]) if values.dtype == object else \
                    np.array_equal(values, kept[key], equal_nan=values.dtype.kind == "f"), (step, key)
    finally:
        batched.close()
        by_hero.close()


def test_two_worlds_step_through_their_batches_as_the_heroes_own_experiments_do():
    """experiment.worlds: 2: each world's batch gives its rows of the step (its heroes that acted and those that
    started anew in one batch, set at the world's offset), as the heroes' own experiments do, through respawns."""
    config = dqn_config(heroes=3, birdview={"output": "masks"})
    config["experiment"]["worlds"] = 2
    batched = CarlaVectorEnv(config, num_envs=6)
    by_hero = CarlaVectorEnv(dict(config, experiment=dict(config["experiment"], batched=False)), num_envs=6)
    try:
        assert isinstance(batched.world.batch, DQNExperimentBatch) and len(batched.worlds) == 2
        batched.reset(seed=4), by_hero.reset(seed=4)
        renderers = [list(world.batch.renderers) for world in batched.worlds]
        rng, ended = np.random.default_rng(0), 0
        for step in range(150):
            chosen = actions(rng, batched.num_envs)
            a, b = batched.step(chosen), by_hero.step(chosen)
            for key in a[0]:
                assert np.array_equal(a[0][key], b[0][key]), (step, key)
            assert_same_step((np.zeros(1), *a[1:]), (np.zeros(1), *b[1:]), step)
            ended += int(np.count_nonzero(a[2] | a[3]))
        assert ended >= 3, ended
        for world, kept in zip(batched.worlds, renderers):  # a hero's renderer draws its next episodes (same pictures)
            assert all(now is then and now.hero is agent.hero
                       for now, then, agent in zip(world.batch.renderers, kept, world.agents))
    finally:
        batched.close()
        by_hero.close()


def test_the_original_reward_runs_hero_by_hero():
    env = CarlaVectorEnv(dqn_config(heroes=2, reward="faithful", birdview={"route": False}))
    try:
        assert env.world.batch is None
        assert DQNExperimentBatch.unsupported(env.world.experiments) == "reward faithful"
    finally:
        env.close()


@pytest.mark.parametrize("framestack, channels", [(1, 3), (2, 3), (3, 3), (2, 8), (2, 9), (4, 9)])
def test_frame_stacks_are_the_hero_by_hero_stacks(framestack, channels):
    """shift_frames and place_frames (the batch's stacks, kept as each hero's last observation, shifted a frame on,
    the new pictures placed in the newest frame) give what DQNExperiment's history of pictures joined on the channel
    axis gives, for heroes acting in any order and subset, their first pictures filling every frame. A shifted stack's
    newest frame holds zeros (the masks are drawn into it). Stacks of 108 and 324 bytes (1 or 3 frames of 3
    channels) shift byte by byte, the others 8 bytes at a time, a part of a word (3 or 9 channels) or whole words
    (8)."""
    rng = np.random.default_rng(framestack * channels)
    heroes, size = 5, 6
    stacks = np.zeros((heroes, size, size, framestack * channels), dtype=np.uint8)
    histories: list[list[np.ndarray]] = [[] for _ in range(heroes)]
    for turn in range(12):
        rows = rng.permutation(heroes)[:heroes if turn == 0 else rng.integers(1, heroes + 1)]  # every hero starts
        first = turn == 0 or bool(rng.integers(0, 4) == 0)
        pictures = rng.integers(0, 256, (len(rows), size, size, channels), dtype=np.uint8)
        out = np.full((len(rows),) + stacks.shape[1:], 77, dtype=np.uint8)
        if not first:
            shift_frames(stacks, rows, channels, out)
            assert (out[..., -channels:] == 0).all()
            assert np.array_equal(out[..., :-channels], stacks[rows][..., channels:])
        place_frames(pictures, first, out)
        stacks[rows] = out
        for row, k in enumerate(rows.tolist()):
            history = histories[k]
            histories[k] = [pictures[row]] * framestack if first else history[1:] + [pictures[row]]
            assert np.array_equal(out[row], np.concatenate(histories[k], axis=2)), (turn, k)
    with pytest.raises(ValueError, match="C-contiguous"):
        shift_frames(stacks, np.arange(heroes), channels, np.empty_like(stacks)[:, ::-1])
