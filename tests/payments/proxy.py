"""A small HTTP proxy in front of localstripe that loses the answer to one capture.

The first capture is forwarded (localstripe captures the money) but its response is held back
until the client, having timed out, sends its retry; only then does the stalled request end.
That is the worst case of a network fault: the money moved and the caller does not know.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from aiohttp import web

_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class StallingProxy:
    def __init__(self, upstream: str, *, stall_captures: int = 1) -> None:
        self.upstream = upstream
        self.stall_captures = stall_captures
        self.capture_keys: list[str | None] = []
        self._retried = asyncio.Event()
        self._http = httpx.AsyncClient(base_url=upstream, timeout=10)
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        is_capture = request.method == "POST" and request.path.endswith("/capture")
        if is_capture:
            self.capture_keys.append(request.headers.get("Idempotency-Key"))
            if len(self.capture_keys) > 1:
                self._retried.set()
        upstream = await self._http.request(
            request.method, request.path_qs, content=body, headers=headers
        )
        if is_capture and self.stall_captures > 0:
            self.stall_captures -= 1
            async with asyncio.timeout(30):
                await self._retried.wait()  # the client gave up on us and asked again
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
            self._retried.set()
            await runner.cleanup()
            await self._http.aclose()
            sock.close()
