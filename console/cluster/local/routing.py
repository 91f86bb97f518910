"""What a router's gRPC and HTTP sides share: the table it watches, the Balancer, pinning by header, mirroring.

Both proxies (grpc_proxy.py, http_proxy.py) take every decision here, so one
smooth weighted round robin spreads their calls together by the same weights,
`x-kanri-service` pins a call the same way on both, and one bound limits the
mirrored calls in flight. Here too every call is counted for the call
autoscaler, and a call for a dormant service (scaled to zero) is held while
the supervisor wakes it: bounded in number and in time (the caller's deadline,
at most HOLD_SECONDS), refused with the reason when its replica cannot start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from .balancer import Balancer
from .call_load import CallMeter, load_path
from .files import write_json
from .router_table import RouterTable, applied_path, table_identity

log = logging.getLogger("kanri.router")

SERVICE_HEADER = "x-kanri-service"
"""On a call: the service of this level to send it to, whatever the weights (a canary at weight 0 too); such a
call is not mirrored. On an answer: the service that answered."""
CLOSE_AFTER_SECONDS = 60.0
"""A replica that left the table keeps its client this long, for the calls still running on it."""
MIRRORS_IN_FLIGHT = 64
"""Mirrored calls beyond this many at once are dropped rather than queued: shadows must not slow the route."""
MIRROR_TIMEOUT_SECONDS = 30.0
HOLD_LIMIT = 256
"""Calls one router process holds at once for dormant services; more are refused rather than queued."""
HOLD_SECONDS = 60.0
"""The longest a call waits for a dormant service's first replica (less when the caller's deadline is sooner)."""


class NoReplica(Exception):
    """No replica can take the call; the message says why."""


class Client(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=Client)


class Upstreams(Generic[C]):
    """One client per replica address, made on first use and reused by every call to it."""

    def __init__(self, make: Callable[[str], C]) -> None:
        self._make = make
        self._clients: dict[str, C] = {}

    def get(self, address: str) -> C:
        if (found := self._clients.get(address)) is None:
            found = self._clients[address] = self._make(address)
        return found

    def keep(self, live: Collection[str]) -> None:
        """Close the clients of replicas not in live, once the calls still running on them had time to end."""
        for address in [a for a in self._clients if a not in live]:
            client = self._clients.pop(address)
            asyncio.get_running_loop().call_later(CLOSE_AFTER_SECONDS,
                                                  lambda c=client: asyncio.ensure_future(c.close()))


class Routing:
    """The routing table a router follows: reloaded when the supervisor replaces its file, and acknowledged.

    Swapping the balancer is atomic for the calls: those in flight finish where they started, so a weight
    change drops nothing.
    """

    def __init__(self, table_path: Path, instance: int) -> None:
        self.table_path = table_path
        self.acknowledgement = applied_path(table_path, instance)
        self.balancer = Balancer(RouterTable())
        self._seen: list[int] | None = None
        self._on_update: list[Callable[[RouterTable], None]] = []
        self._mirrors: set[asyncio.Task] = set()
        self.meter = CallMeter()
        self.load_path = load_path(table_path, instance)
        self._changed = asyncio.Event()
        self._held = 0

    @property
    def table(self) -> RouterTable:
        return self.balancer.table

    def upstreams(self, make: Callable[[str], C], addresses: Callable[[RouterTable], Collection[str]]) -> Upstreams[C]:
        """Clients for one side of the router, by the replica addresses that side uses; retired as replicas leave."""
        upstreams = Upstreams(make)
        self._on_update.append(lambda table: upstreams.keep(addresses(table)))
        return upstreams

    def refresh(self) -> None:
        """Load the table again if the supervisor replaced its file since the last look."""
        try:
            identity = table_identity(self.table_path)
            if identity != self._seen:
                table = RouterTable.load(self.table_path)
                self.balancer = Balancer(table)
                for update in self._on_update:
                    update(table)
                self._seen = identity
                write_json(self.acknowledgement, identity)
                self._changed.set()  # wakes the held calls, which look at the new table
                self._changed = asyncio.Event()
        except (OSError, ValueError, TypeError) as exc:  # the last table stays in use; the next poll tries again
            log.warning("cannot read routing table %s: %s", self.table_path, exc)

    def _pick(self, service: str | None, exclude: Collection[str]) -> tuple[str, str | None]:
        """(service, replica's gRPC address) for the next call, by the weights or to the service named; no
        address for a dormant service."""
        if (choice := self.balancer.pick(exclude, service)) is None:
            self.refresh()  # the first replica may have become ready since the last poll
            choice = self.balancer.pick(exclude, service)
        if choice is None:
            raise NoReplica(why_no_replica(self.table, service, exclude))
        return choice

    async def acquire(self, service: str | None, exclude: Collection[str] = (),
                      seconds: float | None = None) -> tuple[str, str]:
        """(service, replica's gRPC address) for a call, counted from now until `release(service)`; for a dormant
        service, once a replica is ready (seconds: the caller's time left, None if it set no deadline)."""
        chosen, address = self._pick(service, exclude)
        self.meter.begin(chosen)
        try:
            return chosen, address or await self._wake(chosen, seconds)
        except BaseException:
            self.meter.end(chosen)
            raise

    def release(self, service: str) -> None:
        self.meter.end(service)

    @property
    def holding(self) -> bool:
        """Calls wait for a dormant service's first replica: the table is worth reading more often."""
        return self._held > 0

    def publish(self) -> None:
        """The calls counted, for the supervisor's autoscaler; a file that cannot be written (a full disk) is
        said and retried at the next poll, and routing goes on."""
        try:
            self.meter.publish(self.load_path)
        except OSError as exc:
            log.warning("cannot write the call counts %s: %s", self.load_path, exc)

    async def _wake(self, service: str, seconds: float | None) -> str:
        """Hold a call until the dormant service has a ready replica; the supervisor learns of it at once."""
        if self._held >= HOLD_LIMIT:
            raise NoReplica(f"service {service!r} is starting from zero and {HOLD_LIMIT} calls already wait for it")
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + min(HOLD_SECONDS, HOLD_SECONDS if seconds is None else seconds)
        first = True
        self._held += 1
        self.meter.hold(service, 1)
        try:
            while True:
                if reason := self.table.failing.get(service):  # before any nudge: a refusal is no demand
                    raise NoReplica(f"service {service!r} was scaled to zero and cannot start: {reason}")
                if (address := self.balancer.replica(service)) is not None:
                    return address
                if service not in self.table.dormant:
                    raise NoReplica(why_no_replica(self.table, service, ()))
                if first:
                    first = False
                    self.publish()
                    if self.meter.services[service].held == 1:  # the first to wait: later ones add nothing
                        self._nudge_supervisor()
                if (remaining := deadline - loop.time()) <= 0:
                    raise NoReplica(f"service {service!r} was scaled to zero and no replica of it was ready within "
                                    f"{loop.time() - started:.1f}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        finally:
            self._held -= 1
            self.meter.hold(service, -1)

    def _nudge_supervisor(self) -> None:
        """One datagram to the supervisor's wake port; lost or refused, its next tick reads the counts anyway."""
        if port := self.table.wake_port:
            with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as nudge:
                nudge.sendto(b"wake", ("127.0.0.1", port))

    def mirror(self, call: Callable[[str], Awaitable[object]]) -> None:
        """For a share of calls, call(replica of the shadow service) in the background; its outcome is dropped."""
        table = self.table
        if not table.mirror or random.uniform(0, 100) >= table.mirror_percent:
            return
        if len(self._mirrors) >= MIRRORS_IN_FLIGHT or (replica := self.balancer.replica(table.mirror)) is None:
            return
        task = asyncio.ensure_future(_shadow(call(replica)))
        self._mirrors.add(task)
        task.add_done_callback(self._mirrors.discard)


async def _shadow(call: Awaitable[object]) -> None:
    try:
        await asyncio.wait_for(call, MIRROR_TIMEOUT_SECONDS)
    except Exception as exc:  # a shadow's failure is its own: the caller already has its answer
        log.debug("mirrored call failed: %s", exc)


def why_no_replica(table: RouterTable, service: str | None, exclude: Collection[str]) -> str:
    """What a caller reads when no replica can take its call."""
    if service is not None:
        if service not in table.backends:
            return (f"{SERVICE_HEADER} names {service!r}, which is not a service at this level "
                    f"(its services: {', '.join(table.backends) or 'none'})")
        return f"service {service!r} has no ready replica" + (" left to try" if exclude else "")
    if not table.backends:
        return "no service runs behind this route yet"
    shares = ", ".join(f"{name} {table.weights.get(name, 0)}%: {len(table.backends[name])} ready"
                       for name in table.backends)
    return f"no ready replica behind this route{' left to try' if exclude else ''} ({shares})"
