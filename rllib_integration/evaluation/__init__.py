"""A Leaderboard-style evaluator: drive any agent over routes and score it with the CARLA
Leaderboard's metrics (route completion, infraction penalty, driving score, infractions per km).

- :mod:`.infractions`: kinds, penalty factors and route end rules;
- :mod:`.criteria`: collisions, red lights, stop signs and lanes, through the carla API;
- :mod:`.monitor`: one route's completion, ends and scores, tick by tick;
- :mod:`.agents`: the ``AutonomousAgent`` interface and the built-in agents;
- :mod:`.evaluator`: routes driven one after another or by worker processes;
- :mod:`.results`: the ``results.json`` layout and the printed table;
- :mod:`.recording`: a video and a state log per route.
"""

from .agents import AutonomousAgent, load_agent
from .evaluator import EvaluationSettings, RouteRunner, evaluate
from .results import format_table, write_results

__all__ = ["AutonomousAgent", "EvaluationSettings", "RouteRunner", "evaluate", "format_table", "load_agent",
           "write_results"]
