"""Which replica takes a call: smooth weighted round robin over services, round robin over replicas.

Smooth weighted round robin (nginx's) is deterministic, so a 90/10 route sends
exactly 9 calls in 10 to the first service, interleaved rather than in bursts.
A service without ready replicas is skipped, its share going to the others, unless it is dormant (scaled to
zero, waking on calls): then its share is picked without a replica, for the router to hold.
A call pinned to one service goes to its replicas in turn, weight or not.
"""

from __future__ import annotations

from collections.abc import Collection

from .router_table import RouterTable


class Balancer:
    def __init__(self, table: RouterTable) -> None:
        self.table = table
        self._credit = dict.fromkeys(table.weights, 0)
        self._turn = dict.fromkeys(table.backends, 0)
        self._candidates = self._weighted_with_replicas(())

    def _weighted_with_replicas(self, exclude: Collection[str]) -> list[tuple[str, int]]:
        """A retry (exclude set) goes only where a replica is ready: it must not wait for one to start."""
        return [(service, weight) for service, weight in self.table.weights.items()
                if weight > 0 and (any(a not in exclude for a in self.table.backends.get(service, ()))
                                   or (not exclude and service in self.table.dormant))]

    def pick(self, exclude: Collection[str] = (), service: str | None = None) -> tuple[str, str | None] | None:
        """(service, replica address) for the next call, or None when no weighted service (or not the one asked
        for) has a ready replica; the address is None for a dormant service."""
        if service is not None:
            address = self.replica(service, exclude)
            if address is None and not exclude and service in self.table.dormant:
                return service, None
            return None if address is None else (service, address)
        candidates = self._weighted_with_replicas(exclude) if exclude else self._candidates
        if not candidates:
            return None
        best = candidates[0][0]
        for name, weight in candidates:
            self._credit[name] += weight
            if self._credit[name] > self._credit[best]:
                best = name
        self._credit[best] -= sum(weight for _, weight in candidates)
        return best, self.replica(best, exclude)

    def replica(self, service: str, exclude: Collection[str] = ()) -> str | None:
        addresses = [a for a in self.table.backends.get(service, ()) if a not in exclude]
        if not addresses:
            return None
        turn = self._turn.get(service, 0)
        self._turn[service] = turn + 1
        return addresses[turn % len(addresses)]
