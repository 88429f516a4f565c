"""Content URLs reach public addresses only (SSRF): IP literals, names, every redirect hop.

The loopback server stands in for whatever a member would like the bot to request
(the bot's own ports, the LAN, cloud metadata). With ``allow_private`` off, a URL
naming it, directly or by a name or a redirect, is refused before any request: the
server sees nothing. To exercise the redirect check for real, one name (``localhost``)
is made to pass the first check by a test-only resolver, so the first hop reaches the
loopback server and its redirect to a private address is what gets refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest

from rules.images import fetch as fetch_module
from rules.images.fetch import (
    FetchedImage,
    FetchFailure,
    FetchFailureReason,
    FetchPolicy,
    fetch_image,
    is_public_address,
)
from tests import imagegen
from tests.rules.images.loopback import LoopbackServer, redirect, respond

PNG = imagegen.png(imagegen.photo(size=(32, 24)))
CONTENT = FetchPolicy(timeout=5.0, allow_private=False)
TRUSTED = FetchPolicy(timeout=5.0)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),  # IPv4-mapped: judged by the IPv4 address
        ("2002:808:808::", True),  # 6to4 of 8.8.8.8
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # CGNAT
        ("169.254.169.254", False),  # cloud metadata
        ("198.18.0.1", False),  # benchmarking
        ("192.0.2.1", False),  # documentation
        ("224.0.0.1", False),  # multicast (is_global alone says True)
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("ff02::1", False),  # multicast (is_global alone says True)
        ("ff0e::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2001:db8::1", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer() as running:
        running.routes = {"/a.png": respond(PNG, content_type="image/png")}
        yield running


@pytest.fixture(params=["own client", "shared client"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient | None]:
    """No client (fetch_image makes one), or a shared one that follows redirects itself."""
    if request.param == "own client":
        yield None
        return
    async with httpx.AsyncClient(follow_redirects=True, max_redirects=10) as shared:
        yield shared


# {port}: the loopback server's port
PRIVATE_URLS = [
    "http://127.0.0.1:{port}/a.png",
    "http://127.1:{port}/a.png",  # short form, resolved as a name
    "http://2130706433:{port}/a.png",  # 127.0.0.1 as one number
    "http://0.0.0.0:{port}/a.png",  # reaches this machine on Linux
    "http://localhost:{port}/a.png",  # a name that resolves to loopback
    "http://[::1]:{port}/a.png",
    "http://[::ffff:127.0.0.1]:{port}/a.png",
    "https://127.0.0.1:{port}/a.png",
    "http://10.0.0.1/a.png",
    "http://172.16.5.4:8080/a.png",
    "http://192.168.1.1/a.png",
    "http://100.64.0.1/a.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/a.png",
]


@pytest.mark.parametrize("template", PRIVATE_URLS)
async def test_content_urls_to_private_addresses_are_refused(
    server: LoopbackServer, client: httpx.AsyncClient | None, template: str
) -> None:
    url = template.format(port=server.port)
    result = await fetch_image(url, policy=CONTENT, client=client)
    assert isinstance(result, FetchFailure), result
    assert result.reason == FetchFailureReason.NOT_ALLOWED, result
    assert "is a private or local address (" in result.detail, result.detail
    assert server.requests == []


async def test_trusted_sources_may_stay_local(
    server: LoopbackServer, client: httpx.AsyncClient | None
) -> None:
    for url in (server.url("/a.png"), f"http://localhost:{server.port}/a.png"):
        result = await fetch_image(url, policy=TRUSTED, client=client)
        assert isinstance(result, FetchedImage) and result.data == PNG, (url, result)
    assert server.requests == ["/a.png", "/a.png"]


@pytest.fixture
def localhost_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test-only resolver: ``localhost`` passes the address check as a public address
    (the connection still goes to the loopback server); every other name is resolved."""
    resolve = fetch_module._resolve

    async def resolver(host: str, port: int) -> list[fetch_module.IPAddress]:
        if host == "localhost":
            return [ipaddress.ip_address("93.184.215.14")]
        return await resolve(host, port)

    monkeypatch.setattr(fetch_module, "_resolve", resolver)


@pytest.mark.usefixtures("localhost_is_public")
async def test_a_public_hop_is_followed(
    server: LoopbackServer, client: httpx.AsyncClient | None
) -> None:
    """The control for the redirect cases: the patched name works, redirects are followed."""
    server.routes["/moved"] = redirect("/a.png")
    server.routes["/moved-twice"] = redirect(f"http://localhost:{server.port}/moved")
    for path in ("/moved", "/moved-twice"):
        url = f"http://localhost:{server.port}{path}"
        result = await fetch_image(url, policy=CONTENT, client=client)
        assert isinstance(result, FetchedImage) and result.data == PNG, (path, result)
    assert server.requests == ["/moved", "/a.png", "/moved-twice", "/moved", "/a.png"]


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/a.png",
        "http://[::1]:{port}/a.png",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://10.0.0.1/a.png",
        "http://[::ffff:192.168.0.1]/a.png",
        "file:///etc/passwd",
    ],
)
@pytest.mark.usefixtures("localhost_is_public")
async def test_a_redirect_to_a_private_address_is_refused(
    server: LoopbackServer, client: httpx.AsyncClient | None, target: str
) -> None:
    server.routes["/moved"] = redirect(target.format(port=server.port))
    server.routes["/hop"] = redirect(f"http://localhost:{server.port}/moved")
    for path in ("/moved", "/hop"):
        url = f"http://localhost:{server.port}{path}"
        result = await fetch_image(url, policy=CONTENT, client=client)
        assert isinstance(result, FetchFailure), (path, result)
        assert result.reason == FetchFailureReason.NOT_ALLOWED, (path, result)
    # the public hops were requested; the private target never was
    assert server.requests == ["/moved", "/hop", "/moved"]


@pytest.mark.usefixtures("localhost_is_public")
async def test_redirects_are_counted(
    server: LoopbackServer, client: httpx.AsyncClient | None
) -> None:
    server.routes["/loop"] = redirect("/loop")
    url = f"http://localhost:{server.port}/loop"
    policy = FetchPolicy(allow_private=False, max_redirects=3)
    result = await fetch_image(url, policy=policy, client=client)
    assert isinstance(result, FetchFailure) and result.reason == FetchFailureReason.NETWORK
    assert "more than 3 redirects" in result.detail
    assert server.requests == ["/loop"] * 4


async def test_with_private_addresses_allowed_redirects_still_work(
    server: LoopbackServer, client: httpx.AsyncClient | None
) -> None:
    server.routes["/moved"] = redirect(server.url("/a.png"))
    result = await fetch_image(server.url("/moved"), policy=TRUSTED, client=client)
    assert isinstance(result, FetchedImage) and result.data == PNG, result
