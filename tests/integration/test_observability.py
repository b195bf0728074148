"""Prometheus and Grafana wiring (deploy/prometheus, deploy/grafana).

``promtool`` (Debian's prometheus package) checks the configuration and the rules and runs the
rules' unit tests; the Grafana provisioning points at the dashboard and the datasource it uses;
the scrape targets are the compose services' metrics ports; and every metric that the dashboard
and the rules name is exported by a running collector, gateway or API: the compose site runs on
this host (tests/integration/deploy_support.py) and each /metrics is scraped.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from core.localenv import LocalServices
from tests.integration.deploy_support import (
    COMPOSE_DIR,
    TOP,
    HostSite,
    compose_config,
    empty_database,
    require_tool,
)

PROMETHEUS = TOP / "deploy" / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULES = PROMETHEUS / "rules" / "isu.rules.yml"
RULE_TESTS = PROMETHEUS / "tests" / "isu.rules.test.yml"
GRAFANA = TOP / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "isu.json"

# A metric name in PromQL: not part of a longer name, a recording rule (isu:...) or a label.
_NAME = re.compile(r"(?<![\w:])isu_[A-Za-z0-9_]*(?![\w:])")
# What the issue asks the dashboard and the alerts to show.
DASHBOARD_MUST_SHOW = {
    "isu_collector_polls_total",                    # polls per bus
    "isu_collector_poll_errors_total",              # failures per bus
    "isu_collector_queue_depth",                    # queue depth
    "isu_gateway_messages_ingested_total",          # ingest rate
    "isu_gateway_messages_dead_lettered_total",     # dead letters
    "isu_api_request_duration_seconds_bucket",      # API latency
}
ALERTS = {"IsuCollectorSilent", "IsuCollectorQueueGrowing", "IsuIngestStalled",
          "IsuMeterVerificationDue"}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("promtool", "prometheus")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False)


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_queries(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"expr", "definition", "query"} and isinstance(value, str):
                yield value
            else:
                yield from _dashboard_queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dashboard_queries(item)


def referenced_metrics() -> dict[str, set[str]]:
    """Metric name → where it is used (a rule's alert name, or "dashboard")."""
    found: dict[str, set[str]] = {}
    for rule in _rules():
        for name in _NAME.findall(rule["expr"]):
            found.setdefault(name, set()).add(rule["alert"])
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for query in _dashboard_queries(dashboard):
        for name in _NAME.findall(query):
            found.setdefault(name, set()).add("dashboard")
    return found


# ------------------------------------------------------------------------------------- promtool


def test_promtool_accepts_the_rules() -> None:
    done = _promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_configuration_and_finds_the_rules() -> None:
    done = _promtool("check", "config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout


def test_the_alerts_fire_as_their_unit_tests_expect() -> None:
    done = _promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_required_alerts_and_panels_exist() -> None:
    alerts = {rule["alert"] for rule in _rules()}
    assert alerts >= ALERTS
    used = referenced_metrics()
    assert {name for name, where in used.items() if "dashboard" in where} >= DASHBOARD_MUST_SHOW
    assert "isu_meter_verification_due_timestamp_seconds" in used
    for rule in _rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


# -------------------------------------------------------------------------------------- wiring


def test_the_scrape_targets_are_the_compose_services_metrics_ports() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    targets = {job["job_name"]: job["static_configs"][0]["targets"]
               for job in config["scrape_configs"]}

    def toml(name: str) -> dict[str, Any]:
        return tomllib.loads((COMPOSE_DIR / name).read_text(encoding="utf-8"))

    collector_port = toml("collector.toml")["metrics"]["listen"].rsplit(":", 1)[1]
    gateway_port = toml("gateway.toml")["metrics"]["listen"].rsplit(":", 1)[1]
    api_port = toml("api.toml")["http"]["port"]
    assert targets == {
        "isu-collector": [f"collector:{collector_port}"],
        "isu-gateway": [f"gateway:{gateway_port}"],
        "isu-api": [f"api:{api_port}"],
    }
    services = compose_config("--profile", "observability")["services"]
    mounts = services["prometheus"]["volumes"]
    assert f"{PROMETHEUS}:/etc/prometheus:ro" in mounts


def test_grafana_provisions_the_dashboard_and_its_datasource() -> None:
    provisioning = GRAFANA / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "isu.yml").read_text())
    providers = yaml.safe_load((provisioning / "dashboards" / "isu.yml").read_text())
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    variable = next(v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
    assert variable["current"]["value"] == source["uid"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    services = compose_config("--profile", "observability")["services"]
    mounts = {volume.split(":")[1]: volume.split(":")[0]
              for volume in services["grafana"]["volumes"]}
    (provider,) = providers["providers"]
    assert mounts[provider["options"]["path"]] == str(GRAFANA / "dashboards")
    for kind in ("datasources", "dashboards"):
        assert mounts[f"/etc/grafana/provisioning/{kind}"] == str(provisioning / kind)


# --------------------------------------------------------------------- exported by the services


def exported_names(text: str) -> set[str]:
    """Every sample name a /metrics text can carry: a counter family ``x`` is ``x_total`` (and
    ``x_created``), a histogram ``x_bucket``, ``x_sum``, ``x_count``; a family declared without
    samples yet (a labelled counter before its first event) counts as exported."""
    names: set[str] = set()
    suffixes = {"counter": ("_total", "_created"),
                "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("", "_sum", "_count", "_created")}
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


@pytest.fixture
def database(local_services: LocalServices) -> Iterator[str]:
    yield from empty_database(local_services)


@pytest.mark.services
def test_every_metric_of_the_dashboard_and_the_rules_is_exported(
    local_services: LocalServices, database: str, tmp_path: Path
) -> None:
    with HostSite(local_services, database, tmp_path) as site:
        site.up()
        with urllib.request.urlopen(f"http://127.0.0.1:{site.ports.api}/healthz", timeout=5):
            pass
        scraped = {
            "collector": _scrape(site.ports.collector_metrics),
            "gateway": _scrape(site.ports.gateway_metrics),
            "api": _scrape(site.ports.api),
        }
    exported = {service: exported_names(text) for service, text in scraped.items()}
    everything = set().union(*exported.values())
    missing = {name: sorted(where) for name, where in referenced_metrics().items()
               if name not in everything}
    assert not missing, f"named but exported by no service: {missing}"
    # Each service exports its own prefix (a mix-up of ports would pass the check above).
    for service, names in exported.items():
        assert any(name.startswith(f"isu_{service}_") for name in names), service
    assert "isu_meter_verification_due_timestamp_seconds" in exported["gateway"]
    assert "isu_api_request_duration_seconds_bucket" in exported["api"]
