"""Routes: a global route planner on ``carla.Map`` (:mod:`.planner`), the Leaderboard's route files
(:mod:`.route_files`) and seeded route sets for any town (:mod:`.route_sets`)."""
