"""WebSocket clients of the result replicas, as the page's script behaves (docs/result.md): each
keeps the newest tally frame it was sent, and reconnects with backoff and jitter when its socket
drops. They run in an asyncio loop in a thread of their own."""

import asyncio
import json
import random
import threading
import time

import websockets

# The page waits 0.5 s doubling to 10 s; the harness caps the wait at 2 s so that a scenario's
# convergence is not mostly backoff.
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 2.0


class Watcher:
    def __init__(self, replica, url):
        self.replica = replica
        self.url = url
        self.last = None  # the newest frame, parsed
        self.frames = 0
        self.connects = 0
        self.close_codes = []
        self.disconnected_at = None
        # Seconds from a dropped socket to the first frame of the next one.
        self.resyncs = []


class Watchers:
    def __init__(self, replicas, per_replica):
        """`replicas`: {name: port}; `per_replica` clients on each."""
        self.clients = [Watcher(name, f"ws://127.0.0.1:{port}/ws")
                        for name, port in replicas.items() for _ in range(per_replica)]
        self._loop = asyncio.new_event_loop()
        self._stopping = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="watchers")
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._stopping = asyncio.Event()
        tasks = [self._loop.create_task(self._client(client)) for client in self.clients]
        self._ready.set()
        self._loop.run_until_complete(self._stopping.wait())
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _client(self, client):
        retry = FIRST_RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                async with websockets.connect(client.url, open_timeout=5, ping_interval=None,
                                              close_timeout=2) as socket:
                    client.connects += 1
                    retry = FIRST_RETRY_SECONDS
                    async for message in socket:
                        client.last = json.loads(message)
                        client.frames += 1
                        if client.disconnected_at is not None:
                            client.resyncs.append(time.monotonic() - client.disconnected_at)
                            client.disconnected_at = None
                    client.close_codes.append(socket.close_code)
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as err:
                code = getattr(getattr(err, "rcvd", None), "code", None)
                if code is not None:
                    client.close_codes.append(code)
            if client.disconnected_at is None:
                client.disconnected_at = time.monotonic()
            await asyncio.sleep(retry * random.uniform(0.5, 1.0))
            retry = min(retry * 2, MAX_RETRY_SECONDS)

    def tallies(self):
        """(replica, counts) of every client, counts None before its first frame."""
        return [(client.replica, client.last and client.last["counts"]) for client in self.clients]

    def stop(self):
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
