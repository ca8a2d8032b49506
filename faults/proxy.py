"""A TCP proxy on the loopback between the workers and a server, to cut, freeze or slow their
connections as a network would, while the server itself runs on.

- `cut()`: every connection is closed and the port refuses new ones (a dead path, an endpoint
  gone); `restore()` listens again on the same port.
- `freeze()`: connections stay open but nothing is forwarded (a path that silently drops
  packets); `restore()` forwards what waited.
- `slow(seconds)`: every chunk is delivered that much later, in both directions (latency, not a
  bandwidth cap).

It runs an asyncio loop in a thread of its own; the methods may be called from any thread."""

import asyncio
import threading
import time

CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, port, target_port):
        self.port = port
        self.target_port = target_port
        self.delay = 0.0
        self.connections_made = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"proxy-{port}")
        self._thread.start()
        self._server = None
        self._flowing = None
        self._pairs = set()
        self._call(self._setup())
        self._call(self._listen())

    def _call(self, coroutine, timeout=10):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _setup(self):
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def _listen(self):
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                      reuse_address=True)

    async def _serve(self, client_reader, client_writer):
        self.connections_made += 1
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1",
                                                                         self.target_port)
        except OSError:
            client_writer.close()
            return
        pair = (client_writer, server_writer)
        self._pairs.add(pair)
        try:
            # When either direction ends, the connection is over: the other is cut too.
            pumps = [asyncio.ensure_future(self._pump(client_reader, server_writer)),
                     asyncio.ensure_future(self._pump(server_reader, client_writer))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._pairs.discard(pair)
            for writer in pair:
                writer.close()

    async def _pump(self, reader, writer):
        """Copies one direction: a reader that never waits for the writer, so that latency adds
        up rather than throttling, and a writer that holds each chunk until it is due and while
        the proxy is frozen. An end of stream is passed on as a close, a reset as a reset, so
        that the server sees a client die as it would without the proxy."""
        chunks = asyncio.Queue()

        async def read():
            while True:
                try:
                    data = await reader.read(CHUNK)
                except OSError:
                    data = None
                await chunks.put((time.monotonic() + self.delay, data))
                if not data:
                    return

        async def write():
            while True:
                due, data = await chunks.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._flowing.wait()
                if data is None:
                    writer.transport.abort()
                    return
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        reading = asyncio.ensure_future(read())
        try:
            await write()
        finally:
            reading.cancel()

    def cut(self):
        async def cut():
            if self._server is not None:
                self._server.close()
                self._server = None
            for pair in list(self._pairs):
                for writer in pair:
                    writer.transport.abort()
        self._call(cut())

    def freeze(self):
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def slow(self, seconds):
        self.delay = seconds

    def restore(self):
        self.delay = 0.0
        self._loop.call_soon_threadsafe(self._flowing.set)
        self._call(self._listen())

    def open_connections(self):
        return len(self._pairs)

    def close(self):
        async def finish():
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.cut()
        self._call(finish())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
