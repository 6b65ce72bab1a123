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
