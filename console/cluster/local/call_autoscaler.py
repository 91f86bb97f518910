"""Replica counts from the calls a service takes, as Knative's KPA computes them: a stable and a panic window,
a scale-down delay, scale to zero after an idle time, and waking at once for a held call.

The router processes count, per service, the calls started and the call-seconds in flight (call_load.py);
the supervisor samples the sums every tick. Averaged over the stable window (60 s), calls in flight or per
second over the per-replica target give the replicas wanted (never fewer than one while calls come). The
panic window (a tenth of it) sees a burst sooner: when it asks for twice the ready replicas, the service
panics and, for a stable window, scales up on the panic window's figure and never down. A lower count waits
for the scale-down delay (the highest count wanted within it is taken), and a service allowed zero goes there
when no call came, and none was in flight, for its idle time (scale_to_zero_after) with a replica ready.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from ...moments import duration
from ..base import ServiceSpec

PANIC_SHARE = 0.1
"""The panic window, as a share of the stable window (Knative's panic-window-percentage, 10 %)."""
PANIC_THRESHOLD = 2.0
"""The panic window wanting this many times the ready replicas starts a panic (Knative's 200 %)."""
TOLERANCE = 0.05
"""Measured load within this share of a multiple of the target counts as that multiple: the routers' and the
supervisor's clocks tick apart, so one call in flight measures 1.02 and must not ask for a second replica."""


def replicas_for(observed: float, target: float) -> int:
    return max(math.ceil(observed / target - TOLERANCE), 0)


@dataclass(frozen=True)
class Sample:
    """The service's counters summed over its level's routers at one moment."""

    at: float
    started: float
    """Calls started, ever."""
    busy_seconds: float
    """The integral of calls in flight over time, ever: its rate is the mean concurrency."""
    held: int
    """Calls waiting now for a replica of a service at zero."""


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str


@dataclass
class CallAutoscaler:
    """One service's windows and memory; `decide` is called every tick with the newest sample."""

    stable_window: float
    scale_down_delay: float
    samples: deque[Sample] = field(default_factory=deque)
    panic_until: float = 0.0
    last_call_at: float | None = None
    wanted: deque[tuple[float, int]] = field(default_factory=deque)

    def observe(self, sample: Sample) -> None:
        previous = self.samples[-1] if self.samples else None
        busy = previous is not None and (sample.started, sample.busy_seconds) != (previous.started,
                                                                                  previous.busy_seconds)
        if self.last_call_at is None or sample.held or busy:
            self.last_call_at = sample.at
        self.samples.append(sample)
        while self.samples and self.samples[0].at < sample.at - self.stable_window:
            self.samples.popleft()

    def _rate(self, metric: str, window: float) -> float | None:
        """Mean calls in flight (concurrency) or calls per second (rps) over the last `window` seconds."""
        newest = self.samples[-1]
        oldest = self.samples[0]  # the newest sample from before the window began, else the first there is
        for sample in self.samples:
            if sample.at > newest.at - window:
                break
            oldest = sample
        if newest.at - oldest.at <= 0:
            return None
        counter = "busy_seconds" if metric == "concurrency" else "started"
        return (getattr(newest, counter) - getattr(oldest, counter)) / (newest.at - oldest.at)

    def decide(self, spec: ServiceSpec, current: int, ready: int, failing: bool = False) -> Decision:
        """The replicas the service should have now, and why, from the samples observed so far. `failing`: its
        replica cannot start (a crash loop), so the calls held for it are refused and it may go idle."""
        newest = self.samples[-1]
        unit = "in flight" if spec.scale_metric == "concurrency" else "calls/s"
        target = spec.scale_target
        if current == 0:
            if newest.held:
                return self._clamped(spec, max(replicas_for(newest.held, target), 1),
                                     f"{newest.held} held call(s) wake it from zero")
            # Not "idle" again: the grid and the pods panel already say the service rests at zero.
            return Decision(0, f"no call for {duration(spec.scale_to_zero_after)}")
        if ready == 0 and not failing:
            self.last_call_at = newest.at  # waiting for a replica to start is not being idle; a crash loop is
        idle_for = newest.at - (newest.at if self.last_call_at is None else self.last_call_at)
        if spec.min_replicas == 0 and idle_for >= spec.scale_to_zero_after:
            return Decision(0, f"idle for {idle_for:.0f}s: scaled to zero")
        stable = self._rate(spec.scale_metric, self.stable_window)
        panic = self._rate(spec.scale_metric, self.stable_window * PANIC_SHARE)
        if stable is None or panic is None:
            return self._clamped(spec, current, "measuring")
        want_stable, want_panic = replicas_for(stable, target), replicas_for(panic, target)
        if want_panic >= PANIC_THRESHOLD * max(ready, 1) and want_panic > current:
            self.panic_until = newest.at + self.stable_window
        if newest.at < self.panic_until:
            replicas = max(want_panic, current)
            reason = f"panic: {panic:.1f} {unit} over {self.stable_window * PANIC_SHARE:g}s against {target:g}"
        else:
            replicas = want_stable
            reason = f"{stable:.1f} {unit} over {self.stable_window:g}s against {target:g} per replica"
        if newest.held:  # calls waiting now are demand now, whatever the windows have seen of them yet
            replicas = max(replicas, replicas_for(newest.held, target))
        if ready == 0:  # none of its replicas has started yet: removing some would only start them again
            replicas = max(replicas, current)
        # The last replica stays until the service has been idle for its time.
        return self._clamped(spec, max(self._delayed(newest.at, replicas), 1), reason)

    def _delayed(self, now: float, replicas: int) -> int:
        """The most replicas wanted within the scale-down delay: a dip shorter than it removes nothing."""
        self.wanted.append((now, replicas))
        while self.wanted and self.wanted[0][0] < now - self.scale_down_delay:
            self.wanted.popleft()
        return max(count for _, count in self.wanted)

    @staticmethod
    def _clamped(spec: ServiceSpec, replicas: int, reason: str) -> Decision:
        bounded = min(max(replicas, spec.min_replicas), spec.max_replicas)
        if bounded != replicas:
            reason += f"; kept within {spec.min_replicas}..{spec.max_replicas}"
        return Decision(bounded, reason)
