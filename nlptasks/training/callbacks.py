"""Trainer callbacks: a progress bar (or, when stderr is not a terminal, one line per ``--logging-steps``
with the loss, seconds per step and time left) and metric lines on stderr, and a test-only stop hook.

``NLPTASKS_TEST_STOP_AT_STEP=K`` (tests only) ends the process abruptly (``os._exit``, like a kill)
right after the first checkpoint saved at or after step K, so a test can check that ``--resume``
reaches the same weights as an uninterrupted run.
"""
from __future__ import annotations

import math
import os
import sys
import time

from transformers import TrainerCallback

STOP_ENV = "NLPTASKS_TEST_STOP_AT_STEP"
STOP_EXIT_CODE = 75


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def step_line(step: int, max_steps: int, epoch: float, loss: float, lr: float | None, elapsed: float,
              done: int) -> str:
    """``step 50/602 (epoch 0.17): loss 3.21, lr 9.1e-05, 2.10 s/step, 19 min left``."""
    lr_part = f", lr {lr:.2g}" if lr is not None else ""
    line = f"step {step}/{max_steps} (epoch {epoch:.2f}): loss {loss:.4g}{lr_part}"
    if done > 0 and elapsed > 0:
        per = elapsed / done
        left = per * max(max_steps - step, 0)
        left_part = f"{left / 60:.0f} min" if left >= 60 else f"{left:.0f} s"
        line += f", {per:.2f} s/step, {left_part} left"
    return line


class ProgressAndMetrics(TrainerCallback):
    """Training progress bar (when stderr is a terminal) and one line per evaluation, on the main process."""

    def __init__(self, metric_key: str | None, greater_is_better: bool = True):
        self.metric_key = metric_key
        self.greater = greater_is_better
        self.bar = None
        self.last_loss = None
        self.best = None
        self.final = False  # set before the closing evaluation of the best model
        self.lines = False  # plain step lines instead of a bar (stderr piped to a log file)
        self.t0 = self.step0 = None

    def on_train_begin(self, args, state, control, **kw):
        if state.is_world_process_zero:
            from ..progress import progress, progress_enabled

            self.bar = progress(total=state.max_steps, desc="training", unit="step")
            self.bar.update(state.global_step)
            self.lines = not progress_enabled()
            self.t0, self.step0 = time.perf_counter(), state.global_step

    def on_step_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.last_loss = logs["loss"]
            if self.bar is not None:
                self.bar.set_postfix(loss=f"{logs['loss']:.4g}", refresh=False)
            if self.lines and self.t0 is not None:
                print(step_line(state.global_step, state.max_steps, state.epoch or 0.0, logs["loss"],
                                logs.get("learning_rate"), time.perf_counter() - self.t0,
                                state.global_step - self.step0), file=sys.stderr, flush=True)

    def on_evaluate(self, args, state, control, metrics=None, **kw):
        if not state.is_world_process_zero or not any(k.startswith("eval_") for k in metrics or {}):
            return
        key = f"eval_{self.metric_key}" if self.metric_key else None
        mark = ""
        if key in metrics:
            v = metrics[key]
            if self.best is None or (v > self.best if self.greater else v < self.best):
                self.best, mark = v, "  (best)"
        shown = {k[5:]: v for k, v in metrics.items()
                 if k.startswith("eval_") and not k.endswith(("_runtime", "_per_second")) and k != "eval_epoch"}
        loss = f"train loss {self.last_loss:.4g}, " if self.last_loss is not None else ""
        line = ", ".join(f"{k} {_fmt(v)}" for k, v in shown.items())
        epoch = state.epoch or 0.0
        if self.final:
            msg = f"best model: {line}"
        else:
            msg = f"epoch {epoch:.2f} (step {state.global_step}/{state.max_steps}): {loss}{line}{mark}"
        if self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def on_train_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StopAtStep(TrainerCallback):
    """Test hook (see module docstring): simulate a kill right after a checkpoint is written."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kw):
        if state.global_step >= self.step:
            sys.stderr.flush()
            sys.stdout.flush()
            os._exit(STOP_EXIT_CODE)


def stop_hook() -> StopAtStep | None:
    value = os.environ.get(STOP_ENV)
    if not value:
        return None
    step = int(value)
    return StopAtStep(step) if step > 0 and not math.isnan(step) else None
