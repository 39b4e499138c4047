"""The deployment files (Dockerfile, .dockerignore, compose.yaml, deploy/), checked as far as a machine
without a container engine can: what they say, that they agree with each other and with `mcpgate serve`,
and that HAProxy accepts its configuration. Running the same topology is tests/fleet's part."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from mcpgate.settings import EdgeSettings
from tests.fleet.balancer import BALANCING, require_haproxy
from tests.fleet.cluster import mcpgate_command

ROOT = Path(__file__).parent.parent
COMPOSE = ROOT / "compose.yaml"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
DOCKERFILE = ROOT / "Dockerfile"
SHARED = ("MCPGATE_DATABASE_URL", "MCPGATE_REDIS_URL", "MCPGATE_SECRET_KEY", "MCPGATE_API_KEY")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def replicas(services: dict[str, Any]) -> dict[str, Any]:
    """The services that run `mcpgate serve`: built from this checkout, not the one-shot migration."""
    return {
        name: service
        for name, service in services.items()
        if "build" in service and service.get("command", ["serve"])[0] == "serve"
    }


def uninterpolated(value: str) -> str:
    """`value` with each `${VAR…}` replaced by a placeholder, so that it parses as a URL."""
    return re.sub(r"\$\{[^}]*\}", "x", value)


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined, one list per stage."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword.upper(), " ".join(arguments.split())))
    return stages


def instruction(stage: list[tuple[str, str]], keyword: str) -> str | None:
    """The last `keyword` instruction's arguments (the one in effect), if any."""
    found = [arguments for name, arguments in stage if name == keyword]
    return found[-1] if found else None


def serve_flags() -> set[str]:
    """The options `mcpgate serve --help` lists."""
    result = subprocess.run([*mcpgate_command(), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", result.stdout.split("environment:")[0]))


def haproxy_sections() -> dict[str, list[str]]:
    """deploy/haproxy.cfg as {"backend replicas": [its lines], …}, comments left out."""
    sections: dict[str, list[str]] = {}
    current = ""
    for raw in HAPROXY_CFG.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        if not line[0].isspace():
            current = " ".join(line.split())
            sections[current] = []
        else:
            sections[current].append(" ".join(line.split()))
    return sections


def test_compose_runs_two_replicas_sharing_one_database_redis_and_keys_behind_haproxy() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "haproxy"} <= services.keys()
    fleet = replicas(services)
    assert len(fleet) >= 2, sorted(services)
    environments = [service["environment"] for service in fleet.values()]
    for name in SHARED:
        assert len({environment[name] for environment in environments}) == 1, f"{name} differs between replicas"
    environment = environments[0]
    assert urlsplit(uninterpolated(environment["MCPGATE_DATABASE_URL"])).hostname == "postgres"
    assert urlsplit(environment["MCPGATE_REDIS_URL"]).hostname == "redis"
    assert environment["MCPGATE_MIGRATE_ON_START"] == "false"
    # The migration runs once, against the same database, before any replica.
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["environment"]["MCPGATE_DATABASE_URL"] == environment["MCPGATE_DATABASE_URL"]
    # HAProxy is the way in, configured by deploy/haproxy.cfg, and the one proxy the replicas believe.
    haproxy = services["haproxy"]
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    assert [port.split(":")[-1] for port in haproxy["ports"]] == ["8080"]
    trusted = json.loads(environment["MCPGATE_EDGE__TRUSTED_PROXIES"])
    assert trusted == [haproxy["networks"]["default"]["ipv4_address"]]
    assert EdgeSettings(trustedProxies=trusted).trusted_proxies == trusted  # a value the gateway takes
    assert not any("ports" in service for service in fleet.values())  # reached through the balancer only


def test_compose_services_have_healthchecks_and_start_once_what_they_need_is_ready() -> None:
    services = compose()["services"]
    fleet = replicas(services)
    for name, service in services.items():
        if name != "migrate":  # one-shot: it is done, or failed
            assert service["healthcheck"]["test"], name
    for name, service in fleet.items():
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
        assert "/health" in " ".join(service["healthcheck"]["test"])
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["haproxy"]["depends_on"] == {name: {"condition": "service_healthy"} for name in fleet}


def test_compose_requires_each_secret_and_the_example_env_names_them() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert required == {"POSTGRES_PASSWORD", "MCPGATE_SECRET_KEY", "MCPGATE_API_KEY"}
    example = ROOT / "deploy" / "example.env"
    named = {line.split("=", 1)[0] for line in example.read_text().splitlines() if line and not line.startswith("#")}
    assert named == required
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env (the secrets) must be git-ignored"


def test_haproxy_accepts_the_deployment_configuration() -> None:
    result = subprocess.run(
        [require_haproxy(), "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr


def test_the_deployment_balances_as_the_fleet_tests_do() -> None:
    sections = haproxy_sections()
    backend = sections["backend replicas"]
    for line in BALANCING:
        assert line in backend, f"deploy/haproxy.cfg's backend lacks {line!r} (tests/fleet/balancer.py)"
    servers = {line.split()[1]: line.split()[2] for line in backend if line.startswith("server ")}
    assert servers == {name: f"{name}:8080" for name in replicas(compose()["services"])}
    defaults = next(line for line in backend if line.startswith("default-server"))
    assert "check" in defaults.split() and "init-addr last,libc,none" in defaults
    assert "bind :8080" in sections["frontend mcpgate"]
    assert "option forwardfor" in sections["defaults"]


def test_the_dockerfile_builds_in_two_stages_and_runs_as_a_user_of_its_own() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert instruction(builder, "FROM").endswith(" AS builder")  # type: ignore[union-attr]
    assert any(name == "COPY" and arguments.startswith("--from=builder ") for name, arguments in runtime)
    user = instruction(runtime, "USER")
    assert user is not None and user.split(":")[0] not in ("root", "0")
    assert instruction(runtime, "EXPOSE") == "8080"
    health = instruction(runtime, "HEALTHCHECK")
    assert health is not None and "urllib.request" in health and "http://127.0.0.1:8080/health" in health


def test_the_image_serves_on_every_interface_with_flags_mcpgate_serve_has() -> None:
    runtime = dockerfile_stages()[-1]
    command = json.loads(instruction(runtime, "ENTRYPOINT") or "[]") + json.loads(instruction(runtime, "CMD") or "[]")
    assert command[:2] == ["mcpgate", "serve"], command
    arguments = command[2:]
    flags = {argument for argument in arguments if argument.startswith("-")}
    assert flags <= serve_flags(), f"not in `mcpgate serve --help`: {flags - serve_flags()}"
    assert arguments[arguments.index("--host") + 1] == "0.0.0.0"
    assert arguments[arguments.index("--port") + 1] == "8080"


def test_the_build_context_is_what_the_dockerfile_copies() -> None:
    rules = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything else (.git, .venv, .env, tests…) stays out
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    copied = set()
    for name, arguments in dockerfile_stages()[0]:
        if name == "COPY" and not arguments.startswith("--from"):
            copied.update(path.rstrip("/") for path in shlex.split(arguments)[:-1])
    assert copied == allowed
