"""A small HTTP proxy in front of localstripe that loses the answers to chosen requests.

A matching request is forwarded (localstripe acts on it: the money moves) but its response is
held back until the client, having timed out, sends its next attempt (or the proxy closes);
that is the worst case of a network fault: the work is done and the caller does not know.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from aiohttp import web

_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class StallingProxy:
    """Stalls the first `stalls` requests whose path ends with `path_suffix` (POST)."""

    def __init__(self, upstream: str, *, path_suffix: str = "/capture", stalls: int = 1) -> None:
        self.upstream = upstream
        self.path_suffix = path_suffix
        self.stalls = stalls
        self.keys: list[str | None] = []
        """The Idempotency-Key of every matching request, in arrival order."""
        self._arrived = asyncio.Condition()
        self._closing = False
        self._http = httpx.AsyncClient(base_url=upstream, timeout=10)
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        matching = request.method == "POST" and request.path.endswith(self.path_suffix)
        index = len(self.keys)
        if matching:
            self.keys.append(request.headers.get("Idempotency-Key"))
            async with self._arrived:
                self._arrived.notify_all()
        upstream = await self._http.request(
            request.method, request.path_qs, content=body, headers=headers
        )
        if matching and self.stalls > 0:
            self.stalls -= 1
            async with asyncio.timeout(30), self._arrived:
                # Until the client gave up on this answer and asked again.
                await self._arrived.wait_for(lambda: len(self.keys) > index + 1 or self._closing)
        return web.Response(
            status=upstream.status_code,
            body=upstream.content,
            content_type=upstream.headers.get("content-type", "application/json").split(";")[0],
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator["StallingProxy"]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            yield self
        finally:
            self._closing = True
            async with self._arrived:
                self._arrived.notify_all()
            await runner.cleanup()
            await self._http.aclose()
            sock.close()
