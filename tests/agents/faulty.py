"""Agents for the evaluator's tests (``--agent agents.faulty:Class`` with tests/ on the path)."""

import time

from rllib_integration.evaluation.agents import AutopilotAgent, AutonomousAgent


class Crashing(AutonomousAgent):
    """Raises on its third step of every route whose goal lies east of x = 250 (others drive straight on)."""

    def set_global_plan(self, route):
        super().set_global_plan(route)
        self.steps = 0
        self.crashes = route[-1][0].transform.location.x > 250.0

    def run_step(self, input_data, timestamp):
        self.steps += 1
        if self.crashes and self.steps == 3:
            raise ZeroDivisionError("the agent's own bug")
        import carla
        return carla.VehicleControl(throttle=0.5)


class SlowAutopilot(AutopilotAgent):
    """The autopilot, 4 ms of wall time per step (a run long enough to interrupt)."""

    def run_step(self, input_data, timestamp):
        time.sleep(0.004)
        return super().run_step(input_data, timestamp)
