"""If-Match parsing: which header values name a version, and which are refused how."""

from __future__ import annotations

import json

import pytest

from orderly.platform.http.preconditions import PreconditionProblem, etag, expected_version, stale


@pytest.mark.parametrize(("header", "version"), [('"7"', 7), (' "12" ', 12), ("*", None)])
def test_a_strong_etag_or_a_star_names_the_version(header: str, version: int | None) -> None:
    assert expected_version(header, required=True, resource="product") == version


def test_an_etag_reads_back_as_its_version() -> None:
    assert expected_version(etag(41), required=True, resource="product") == 41


def test_absent_is_any_version_unless_required() -> None:
    assert expected_version(None, required=False, resource="product") is None
    with pytest.raises(PreconditionProblem) as refused:
        expected_version(None, required=True, resource="warehouse")
    assert refused.value.response.status_code == 428
    assert "warehouse's ETag" in json.loads(bytes(refused.value.response.body))["detail"]


def test_a_weak_etag_never_matches() -> None:
    with pytest.raises(PreconditionProblem) as refused:
        expected_version('W/"7"', required=True, resource="product")
    assert refused.value.response.status_code == 412


@pytest.mark.parametrize("header", ['"7", "8"', "7", '"seven"', '"1234567890"', ""])
def test_anything_else_is_a_bad_request(header: str) -> None:
    with pytest.raises(PreconditionProblem) as refused:
        expected_version(header, required=True, resource="product")
    assert refused.value.response.status_code == 400


def test_stale_names_the_current_version() -> None:
    response = stale("changed meanwhile", current_version=9)
    assert response.status_code == 412
    body = json.loads(bytes(response.body))
    assert (body["type"], body["current_version"]) == ("urn:orderly:problem:precondition-failed", 9)
