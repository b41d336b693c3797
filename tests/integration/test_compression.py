"""Responses are compressed: the dashboard's code (megabytes of JavaScript) and its JSON data."""

from __future__ import annotations

import gzip
import json

import brotli
import pytest

from ..factories import callback_body, code_urls, load_values, login

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


@pytest.mark.parametrize("encoding", DECODE)
def test_code_is_compressed(client, user_email, encoding):
    assert login(client, user_email).status_code == 302
    biggest = max(code_urls(client), key=lambda url: len(client.get(url).get_data()))
    plain = client.get(biggest).get_data()
    assert len(plain) > 500_000, biggest  # a real bundle, not a small file
    response = client.get(biggest, headers={"Accept-Encoding": encoding})
    assert response.headers.get("Content-Encoding") == encoding, biggest
    assert DECODE[encoding](response.get_data()) == plain
    assert len(response.get_data()) < len(plain) / 2
    assert "Accept-Encoding" in response.headers.get("Vary", "")


@pytest.mark.parametrize("encoding", DECODE)
def test_json_data_is_compressed(client, user_email, auth_headers, encoding):
    assert login(client, user_email).status_code == 302
    dependencies = client.get("/_dash-dependencies").get_json()
    load = next(d for d in dependencies if d["output"].startswith("..billing-downloads.data..."))
    body = callback_body(load, load_values({"period": "year"}))
    for request in (
        lambda headers: client.post("/_dash-update-component", json=body, headers=headers),
        lambda headers: client.get(
            "/api/v1/analytics/billing", query_string={"period": "year"}, headers={**auth_headers, **headers}
        ),
    ):
        plain = request({})
        assert plain.status_code == 200 and plain.headers.get("Content-Encoding") is None
        response = request({"Accept-Encoding": encoding})
        assert response.headers.get("Content-Encoding") == encoding
        assert json.loads(DECODE[encoding](response.get_data())) == plain.get_json()
        assert response.headers["Cache-Control"] == "no-store"  # compressed, still never cached
