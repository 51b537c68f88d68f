"""The durable broker's S3 server honours If-Match, as Tansu's metadata updates need."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from streams.brokers.bucket import ConditionalS3Handler


@pytest.fixture
def bucket_url(tmp_path: Path) -> Iterator[str]:
    ConditionalS3Handler.data_root = tmp_path
    (tmp_path / "tansu").mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), ConditionalS3Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tansu"
    finally:
        server.shutdown()
        server.server_close()


def put(url: str, body: bytes, if_match: str | None = None) -> int:
    headers = {"If-Match": if_match} if if_match else {}
    request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def etag(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.headers["ETag"])


def test_a_write_naming_the_stored_version_succeeds_and_one_naming_an_older_version_fails(bucket_url: str) -> None:
    url = f"{bucket_url}/meta.json"
    assert put(url, b"v1") == 200
    first = etag(url)
    assert put(url, b"v2", if_match=first) == 200
    assert put(url, b"v3 from a stale read", if_match=first) == 412  # plain localbucket answers 200
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"v2"


def test_if_match_on_a_missing_object_fails_and_unconditional_writes_still_work(bucket_url: str) -> None:
    assert put(f"{bucket_url}/absent.json", b"x", if_match='"0123"') == 404
    assert put(f"{bucket_url}/plain.json", b"x") == 200
