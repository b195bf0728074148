"""The application without a database: OpenAPI, error bodies, keys, liveness and metrics.

The database is never reachable here, so the client's admin key is put in the application's
key cache, as a first request would have put it there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.auth import Caller, KeyCache, key_digest
from api.config import ApiConfig
from api.errors import validation_body

KEY = "isu_unit-test-key-000000000000000000000000000000"

# Nothing listens on port 9 of the loopback in a test box; the pool never connects anyway
# (min_connections = 0), and requests that need the database wait at most acquire_timeout_s.
CONFIG = ApiConfig.model_validate(
    {
        "database": {
            "dsn": "postgresql://nobody@127.0.0.1:9/none",
            "min_connections": 0,
            "acquire_timeout_s": 0.2,
        }
    }
)


@pytest.fixture
async def app() -> AsyncIterator[FastAPI]:
    application = create_app(CONFIG)
    async with application.router.lifespan_context(application):
        keys: KeyCache = application.state.services.keys
        keys.remember(key_digest(KEY), Caller(key_id=1, name="unit", admin=True))
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api.test", headers=headers
    ) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


def _has_example(content: dict[str, Any], components: dict[str, Any]) -> bool:
    if "example" in content or "examples" in content:
        return True
    ref = content.get("schema", {}).get("$ref", "")
    return bool(ref) and "examples" in components[ref.rsplit("/", 1)[-1]]


async def test_openapi_document_has_an_example_for_every_response(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    components = document["components"]["schemas"]
    paths = document["paths"]
    assert {
        "/api/v1/meters",
        "/api/v1/meters/{meter_id}/readings",
        "/api/v1/meters/{meter_id}",
        "/api/v1/meters/{meter_id}/journal",
        "/api/v1/meters/{meter_id}/journal/kinds",
        "/api/v1/meters/{meter_id}/archive",
        "/api/v1/meters/{meter_id}/intervals",
        "/api/v1/contracts",
        "/api/v1/contracts/{number}/tree",
        "/api/v1/nodes/{node_id}",
        "/api/v1/contracts/{number}/export/80020",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(paths)
    missing = [
        (path, method, status, media)
        for path, operations in paths.items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        for media, content in answer.get("content", {"none": {}}).items()
        if not _has_example(content, components)
    ]
    assert missing == []
    readings = paths["/api/v1/meters/{meter_id}/readings"]["get"]["responses"]
    assert set(readings) == {"200", "401", "404", "422", "503"}
    assert "HTTPValidationError" not in components  # every 422 uses our body


async def test_openapi_declares_the_bearer_key_on_data_routes_only(
    anonymous: httpx.AsyncClient,
) -> None:
    document = (await anonymous.get("/api/v1/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path in ("/api/v1/meters", "/api/v1/meters/{meter_id}/readings"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == [{"ApiKey": []}]
        refused = operation["responses"]["401"]
        assert refused["content"]["application/json"]["example"] == {
            "detail": "unknown or revoked API key"
        }
        assert "WWW-Authenticate" in refused["headers"]
    for path in ("/healthz", "/readyz", "/metrics"):
        operation = document["paths"][path]["get"]
        assert "security" not in operation
        assert "401" not in operation["responses"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "x" * 300},
    ],
)
async def test_a_request_without_a_usable_key_is_401_without_the_database(
    anonymous: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    started = time.monotonic()
    response = await anonymous.get("/api/v1/meters", headers=headers)
    assert time.monotonic() - started < 0.2  # never waited for the (unreachable) pool
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] in {
        "an API key is required: send 'Authorization: Bearer <key>'",
        "unknown or revoked API key",
    }


async def test_a_key_not_in_the_cache_needs_the_database(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(
        "/api/v1/meters", headers={"Authorization": "Bearer isu_not-cached"}
    )
    assert response.status_code == 503


async def test_operations_and_documentation_need_no_key(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/metrics", "/api/v1/openapi.json", "/api/v1/docs"):
        assert (await anonymous.get(path)).status_code == 200, path


def test_the_key_cache_forgets_after_its_time_and_holds_a_bounded_number() -> None:
    now = [100.0]
    cache = KeyCache(30, max_entries=2, clock=lambda: now[0])
    caller = Caller(key_id=1, name="a")
    cache.remember(b"a", caller)
    now[0] += 29.9
    assert cache.get(b"a") is caller
    now[0] += 0.1
    assert cache.get(b"a") is None
    for digest in (b"x", b"y", b"z"):
        cache.remember(digest, caller)
    assert len(cache) == 2
    assert cache.get(b"x") is None  # the oldest went first
    disabled = KeyCache(0)
    disabled.remember(b"a", caller)
    assert disabled.get(b"a") is None


def test_a_caller_scope_splits_whole_contracts_from_energy_objects() -> None:
    caller = Caller(key_id=1, name="k", contracts={1: None, 2: frozenset({5, 6})})
    scope = caller.scope
    assert (scope.admin, scope.contracts, scope.energy_objects) == (
        False,
        frozenset({1}),
        frozenset({5, 6}),
    )
    assert Caller(key_id=2, name="root", admin=True, contracts={1: None}).scope.admin


async def test_openapi_examples_keep_their_nulls(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    meters = document["paths"]["/api/v1/meters"]["get"]["responses"]["200"]
    assert meters["content"]["application/json"]["example"][0]["contract"] is None
    readings = document["paths"]["/api/v1/meters/{meter_id}/readings"]["get"]["responses"]
    example = readings["200"]["content"]["application/json"]["example"]
    assert [block["type"] for block in example["blocks"]] == [
        "day_end",
        "period_end",
        "interval",
        "current",
    ]
    assert example["blocks"][0]["as_of"] is None
    assert example["blocks"][0]["rows"][0]["values"] == {"sum": None}
    assert document["components"]["schemas"]["MeterSummary"]["examples"][0]["contract"] is None


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "/api/v1/openapi.json" in response.text


async def test_healthz_needs_no_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("url", "parameter", "location"),
    [
        ("/api/v1/meters?q=" + "x" * 101, "q", "query"),
        ("/api/v1/meters/bad%20id/readings", "meter_id", "path"),
        ("/api/v1/meters/" + "m" * 65 + "/readings", "meter_id", "path"),
    ],
)
async def test_bad_parameters_are_named_without_touching_the_database(
    client: httpx.AsyncClient, url: str, parameter: str, location: str
) -> None:
    response = await client.get(url)
    # The pool is unreachable: a request that touched the database would answer 503 after
    # acquire_timeout_s, so a 422 says the parameter was refused first (no timing needed on
    # a shared machine).
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith(f"{location} parameter {parameter!r}: ")
    assert body["errors"][0]["parameter"] == parameter
    assert body["errors"][0]["location"] == location


async def test_a_request_needing_the_database_gets_503_when_it_is_away(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/meters")
    assert response.status_code == 503
    assert response.json() == {"detail": "the database is unavailable; try again later"}
    assert "127.0.0.1:9" not in response.text


async def test_unknown_route_has_the_same_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/api/v1/meters/bad%20id/readings")
    await client.get("/api/v1/meters/other%20id/readings")
    await client.get("/random/scan/path")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'isu_api_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert (
        'isu_api_requests_total{method="GET",route="/api/v1/meters/{meter_id}/readings",'
        'status="422"} 2.0'
    ) in text
    assert 'isu_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "bad id" not in text
    assert "/random/scan/path" not in text
    assert 'isu_api_request_duration_seconds_count{method="GET",route="/healthz"} 1.0' in text
    assert "isu_api_db_pool_size" in text


async def test_two_apps_in_one_process_keep_their_own_metrics(
    client: httpx.AsyncClient,
) -> None:
    other = create_app(CONFIG)  # would raise on a duplicate registration in a shared registry
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as second:
            await client.get("/healthz")
            text = (await second.get("/metrics")).text
    assert 'route="/healthz"' not in text


def test_validation_body_names_every_parameter() -> None:
    body_errors = [
        {"loc": ("query", "q"), "msg": "too long"},
        {"loc": ("path", "meter_id"), "msg": "bad pattern"},
        {"loc": ("body", "items", 0, "value"), "msg": "not a number"},
    ]
    body = validation_body(body_errors)
    assert body.detail == "query parameter 'q': too long"
    assert validation_body(body_errors[2:]).detail == "body field 'items.0.value': not a number"
    assert [(e.parameter, e.location) for e in body.errors] == [
        ("q", "query"),
        ("meter_id", "path"),
        ("items.0.value", "body"),
    ]
    assert validation_body([{"loc": ("body",), "msg": "missing"}]).detail == (
        "request body: missing"
    )
    assert validation_body([]).detail == "the request is invalid"
