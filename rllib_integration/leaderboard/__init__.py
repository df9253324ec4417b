"""CARLA Leaderboard 2.x agents: :mod:`.policy_agent` runs a trained policy under CARLA's own
``leaderboard_evaluator.py`` (it imports CARLA's ``leaderboard`` and ``srunner`` packages, so only there)."""
