"""Ctrl-C and SIGTERM during training: finish the step, write a checkpoint, exit 130/143.

The handler only sets a flag that the loop reads between steps, so a step is never cut in half and the
checkpoint holds a consistent state. A second signal means "now": it raises SystemExit at once, which unwinds
through the `finally` clauses (a half-written temporary checkpoint is removed; the renames that publish a
checkpoint hold signals off, so no file is left damaged).
"""

from __future__ import annotations

import logging
import signal
import threading

import torch

log = logging.getLogger("ganctl")

HANDLED = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    return 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


class StopOnSignal:
    """Context manager: `.signum` is set once SIGINT or SIGTERM arrived. Outside the main thread (a joblib
    worker thread) Python cannot install handlers; the process's default handling then applies."""

    def __init__(self, announce: bool = True):
        self.announce = announce  # data-parallel ranks other than 0 stop as quietly as they train
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            if self.announce:
                log.warning("second %s: stopping now, without a new checkpoint (the last one is intact)",
                            signal.Signals(signum).name)
            raise SystemExit(exit_code(signum))
        self.signum = signum
        if self.announce:
            log.warning("%s received: finishing this step and writing a checkpoint (press Ctrl-C again to quit "
                        "at once)", signal.Signals(signum).name)

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


class StopVote:
    """When to stop: this process's signal, or with several data-parallel ranks the vote of all of them (any rank's
    request stops every rank after the same step). The vote rides as one extra number in G's gradient all-reduce
    (`flag` goes in, `count` reads the summed value back), so it costs no collective of its own."""

    def __init__(self, stop: StopOnSignal, world: int):
        self.stop, self.world = stop, world
        self.votes = 0.0  # the ranks' requests summed by the last all-reduce

    def flag(self, device) -> torch.Tensor:
        """This rank's request, as the 0-d tensor that joins the all-reduce."""
        return torch.tensor(float(self.stop.requested), device=device)

    def count(self, reduced: torch.Tensor) -> None:
        self.votes = float(reduced.item())  # a host sync the ranks pay for the all-reduce anyway

    @property
    def now(self) -> bool:
        return self.stop.requested if self.world == 1 else self.votes > 0
