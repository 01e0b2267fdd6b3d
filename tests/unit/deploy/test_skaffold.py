"""skaffold.yaml against skaffold's published schema (v4beta13), and what it points at."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from shopstream.settings import REPO_ROOT

SCHEMA = Path(__file__).parent / "skaffold" / "v4beta13.json"


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO_ROOT / "skaffold.yaml").read_text())
    return config


def test_skaffold_yaml_is_valid_against_skaffolds_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(_config())
    assert _config()["apiVersion"] == "skaffold/v4beta13"


def test_a_misspelt_key_is_refused_by_the_schema() -> None:
    config = _config()
    config["deploy"]["helm"]["releases"][0]["chartpath"] = "charts/shopstream"
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert not validator.is_valid(config)


def test_the_custom_builder_is_the_buildah_build() -> None:
    artifact = _config()["build"]["artifacts"][0]
    command = REPO_ROOT / artifact["custom"]["buildCommand"]
    assert os.access(command, os.X_OK)
    assert "deploy/image/build-image.sh" in command.read_text()


def test_python_files_of_every_package_in_the_image_are_synced() -> None:
    rules = _config()["build"]["artifacts"][0]["sync"]["manual"]
    synced = {rule["src"].split("/", 1)[0] for rule in rules if rule["dest"] == "/app"}
    assert synced == {"shopstream", "stack", "streams", "api", "operators", "ops"}


def test_the_helm_deployer_installs_the_chart_with_the_built_image() -> None:
    release = _config()["deploy"]["helm"]["releases"][0]
    assert (REPO_ROOT / release["chartPath"] / "Chart.yaml").exists()
    assert release["setValueTemplates"]["image.repository"] == "{{.IMAGE_REPO_shopstream}}"
    for path in release["valuesFiles"]:
        assert (REPO_ROOT / path).exists()


def test_the_local_and_eks_profiles_exist_and_point_at_values_that_exist() -> None:
    profiles = {profile["name"]: profile for profile in _config()["profiles"]}
    assert set(profiles) == {"local", "eks"}
    for patch in profiles["eks"]["patches"]:
        if patch["path"].endswith("/valuesFiles"):
            assert all((REPO_ROOT / path).exists() for path in patch["value"])
