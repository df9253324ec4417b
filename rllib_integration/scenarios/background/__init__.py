"""The Leaderboard 2.0's background activity for the evaluator's routes: see :mod:`.activity`."""

from .activity import BackgroundActivity

__all__ = ["BackgroundActivity"]
