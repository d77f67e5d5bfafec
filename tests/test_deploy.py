"""The compose file and Dockerfile name only things that exist: settings, commands, files."""

import re

import yaml
from conftest import ROOT

from civic_api.settings import DEFAULTS

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
GUNICORN_VARIABLES = set(re.findall(r"CIVIC_[A-Z_]+", (ROOT / "gunicorn.conf.py").read_text()))


def test_every_process_runs_the_same_image():
    services = COMPOSE["services"]
    assert set(services) == {"db", "redis", "migrate", "api", "worker", "retention"}
    app_services = [services[name] for name in ("migrate", "api", "worker", "retention")]
    assert {s["image"] for s in app_services} == {"civic-api:latest"}
    assert {s["build"] for s in app_services} == {"."}
    assert services["db"]["image"].startswith("postgis/postgis:15-")
    # Photos are shared by the API (uploads) and retention (orphaned files).
    for name in ("api", "retention"):
        assert "photos:/var/lib/civic/photos" in services[name]["volumes"]


def test_every_variable_is_a_real_setting():
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("CIVIC_"):
                known = variable.removeprefix("CIVIC_") in DEFAULTS
                assert known or variable in GUNICORN_VARIABLES, (name, variable)
    dockerfile = (ROOT / "Dockerfile").read_text()
    for variable in re.findall(r"(CIVIC_[A-Z_]+)=", dockerfile):
        assert variable.removeprefix("CIVIC_") in DEFAULTS or variable in GUNICORN_VARIABLES


def test_every_command_exists(app):
    runner = app.test_cli_runner()
    for name in ("migrate", "worker", "retention"):
        command = COMPOSE["services"][name]["command"]
        lines = command[-1].split("&&") if command[0] == "sh" else [" ".join(command)]
        for line in lines:
            words = line.split()
            assert words[0] == "flask", line
            # --help at the command's level: it exists and its options parse.
            options = [w for w in words[1:] if w.startswith("--")]
            path = [w for w in words[1:] if not w.startswith("--") and not w.isdigit()]
            result = runner.invoke(args=[*path, "--help"])
            assert result.exit_code == 0, (line, result.output)
            for option in options:
                assert option in result.output, (line, option)


def test_dockerfile_copies_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]' in dockerfile
