"""Commands of order monitoring and the periodic sweeps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from omskit.domain.commands.base import Command, moment

#: The jobs ``run_sweeps`` runs, in the order it runs them: what lapsed first (cart holds,
#: order edits, authorisations, uncollected pickups), then the monitor, so it sees their
#: outcome; then the customer messages due for a retry.
SWEEP_JOBS: tuple[str, ...] = ("carts", "edits", "authorisations", "pickups", "monitor",
                               "notifications")


@attrs.frozen(kw_only=True)
class SweepExceptions(Command):
    """Raise each breach the monitor sees for the first time and clear those that ended.
    Naturally idempotent: a breach's key is recorded once."""

    name = "sweep_exceptions"
    subject = "monitor sweep"

    #: The time to judge at (None: the clock).
    now: datetime | None = moment(optional=True, default=None)  # noqa: RUF009


@attrs.frozen(kw_only=True)
class RunSweeps(Command):
    """Run the periodic jobs (``SWEEP_JOBS``, or those named in ``jobs``) under the sweep
    lock: one process at a time runs them, others skip. Each job is idempotent."""

    name = "run_sweeps"
    subject = "sweep"

    now: datetime | None = moment(optional=True, default=None)  # noqa: RUF009
    #: The jobs to run (None: all of them).
    jobs: Sequence[str] | None = None

    def check(self, problems: list[str]) -> None:
        if self.jobs is None:
            return
        if isinstance(self.jobs, str) or not isinstance(self.jobs, tuple | list):
            problems.append(f"jobs: must be a list of job names, got {self.jobs!r}")
            return
        if not self.jobs:
            problems.append("jobs: name at least one job, or leave it out for all")
        for job in self.jobs:
            if not isinstance(job, str) or job not in SWEEP_JOBS:
                problems.append(f"jobs: unknown job {job!r} (known: {', '.join(SWEEP_JOBS)})")


__all__ = ["SWEEP_JOBS", "RunSweeps", "SweepExceptions"]
