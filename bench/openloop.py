"""A small bounded open-loop HTTP load generator (what wrk2 does, for loopback benchmarks).

Requests are scheduled at a fixed rate whatever the server does; each one's latency runs
from its *scheduled* send time to the end of its response, so a server that stalls is
charged for every request that waited behind the stall (no coordinated omission). A fixed
number of keep-alive connections send them; a request that finds them all busy waits in
the queue, and that wait counts. The run is bounded: `count` requests, each with a timeout.
"""

import http.client
import queue
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

# (method, path, body, headers) for the i-th request.
RequestFactory = Callable[[int], tuple[str, str, bytes | None, dict]]


@dataclass
class Result:
    latencies: list[float]  # seconds, from the scheduled send time, successful responses only
    statuses: Counter  # HTTP status (or "error: <exception type>") -> count
    elapsed: float  # seconds from the first scheduled send to the last response
    bodies: list[bytes]  # bodies of the responses with `keep_status`

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def summary(self) -> str:
        if not self.latencies:
            return f"no successful responses; statuses {dict(self.statuses)}"
        return (
            f"p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms, "
            f"max {max(self.latencies) * 1000:.1f} ms, mean "
            f"{statistics.mean(self.latencies) * 1000:.1f} ms, statuses {dict(self.statuses)}"
        )


def run(
    host: str,
    port: int,
    make_request: RequestFactory,
    rate: float,
    count: int,
    connections: int = 16,
    timeout: float = 10.0,
    keep_status: int | None = None,
) -> Result:
    """Send `count` requests at `rate` per second over `connections` keep-alive connections."""
    pending: queue.Queue = queue.Queue()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter = Counter()
    bodies: list[bytes] = []
    last_done = [0.0]

    def sender() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        while (job := pending.get()) is not None:
            index, scheduled = job
            method, path, body, headers = make_request(index)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                status: int | str = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException) as exc:
                status, data = f"error: {type(exc).__name__}", b""
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=timeout)
            done = time.perf_counter()
            with lock:
                statuses[status] += 1
                last_done[0] = max(last_done[0], done)
                if isinstance(status, int) and status < 400:
                    latencies.append(done - scheduled)
                if status == keep_status:
                    bodies.append(data)
        connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.05
    for index in range(count):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        pending.put((index, scheduled))
    for _ in threads:
        pending.put(None)
    for thread in threads:
        thread.join(timeout=timeout * (count / connections + 1))
    return Result(latencies, statuses, last_done[0] - start, bodies)
