"""A model call whose connection drops is made once more (serving/model_calls.py), against a real aiohttp server
that hangs up on the first requests the way BentoML's client closing its session mid-flight does."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from serving.model_calls import ModelUnreachable, call_retrying_dropped_connection


async def _with_server(drops: int, status: int = 200):
    """Serve /score on loopback; the first `drops` requests are answered by closing the connection."""
    seen = {"requests": 0}

    async def score(request: web.Request) -> web.StreamResponse:
        seen["requests"] += 1
        if seen["requests"] <= drops:
            request.transport.close()  # hang up without an answer: the client sees ServerDisconnectedError
            return web.Response()
        return web.json_response({"p_fake": [0.25]}, status=status)

    app = web.Application()
    app.router.add_post("/score", score)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/score", seen


async def _call(drops: int, status: int = 200):
    runner, url, seen = await _with_server(drops, status)
    try:
        async with aiohttp.ClientSession() as session:

            async def post() -> dict:
                async with session.post(url, json={"clips": 1}) as resp:
                    resp.raise_for_status()
                    return await resp.json()

            try:
                return await call_retrying_dropped_connection(post, "scoring"), seen["requests"]
            except Exception as exc:
                return exc, seen["requests"]
    finally:
        await runner.cleanup()


def test_a_dropped_connection_is_retried_once_and_answers():
    answer, requests = asyncio.run(_call(drops=1))
    assert answer == {"p_fake": [0.25]}
    assert requests == 2


def test_two_drops_running_is_model_unreachable_not_a_raw_aiohttp_error():
    error, requests = asyncio.run(_call(drops=2))
    assert isinstance(error, ModelUnreachable) and "dropped the connection twice" in str(error)
    assert requests == 2  # one retry, not a loop


def test_an_error_answer_is_not_retried():
    error, requests = asyncio.run(_call(drops=0, status=500))
    assert isinstance(error, aiohttp.ClientResponseError) and error.status == 500
    assert requests == 1
