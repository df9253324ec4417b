"""The Ray autoscaler cluster file (``dqn_example/dqn_autoscaler.yaml``): validation with Ray's own schema, and
filling in the region, zones, AMI and security group that ``aws_helper.py`` made, keeping the file's comments."""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import yaml

from .ec2 import AwsError

#: Values the shipped cluster file carries until ``aws_helper.py create-image/configure-cluster`` fills them in.
IMAGE_PLACEHOLDER, GROUP_PLACEHOLDER = "REPLACE_WITH_CARLA_AMI", "REPLACE_WITH_SECURITY_GROUP"


def load(path: str | os.PathLike) -> dict[str, Any]:
    """The cluster file as a mapping; a missing or malformed file is an :class:`AwsError`."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError as error:
        raise AwsError(f"cluster file {path} not found. Fix: pass --cluster-config with the path of "
                       f"dqn_example/dqn_autoscaler.yaml (or a copy).") from error
    except yaml.YAMLError as error:
        raise AwsError(f"cluster file {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict) or "available_node_types" not in data:
        raise AwsError(f"{path} is not a Ray cluster file (no available_node_types). Fix: pass the autoscaler YAML.")
    return data


def validate(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Check ``data`` with Ray's cluster schema and rules (offline) and return it merged onto Ray's AWS
    defaults; errors name the file and what Ray said."""
    from ray.autoscaler._private.util import prepare_config, validate_config
    try:
        prepared = prepare_config(copy.deepcopy(data))
        validate_config(prepared)
    except Exception as error:  # Ray raises ValueError and jsonschema's ValidationError
        raise AwsError(f"{source} is not a valid Ray cluster file: {str(error).splitlines()[0]}") from error
    return prepared


def instance_types(data: dict[str, Any]) -> list[str]:
    """The EC2 instance types of every node type."""
    return sorted({node["node_config"]["InstanceType"] for node in data["available_node_types"].values()})


def placeholders(data: dict[str, Any]) -> list[str]:
    """Where the file still has the AMI or security group placeholders (``node_type.key`` paths)."""
    found = []
    for name, node in data["available_node_types"].items():
        config = node.get("node_config", {})
        if config.get("ImageId") == IMAGE_PLACEHOLDER:
            found.append(f"{name}.ImageId")
        if GROUP_PLACEHOLDER in (config.get("SecurityGroupIds") or []):
            found.append(f"{name}.SecurityGroupIds")
    return found


#: key -> pattern of its line: indentation and key, the value, a trailing comment.
_EDITS = {key: re.compile(rf"^(\s*{key}:\s*)({value})(\s*(?:#.*)?)$", re.M)
          for key, value in (("region", r"[^#\s]+"), ("availability_zone", r"[^#\s]+"), ("ImageId", r"[^#\s]+"),
                             ("SecurityGroupIds", r"\[[^\]#]*\]"))}


def configure(path: str | os.PathLike, *, region: str, zones: list[str], image_id: str,
              security_group_id: str) -> dict[str, Any]:
    """Write ``region``, ``zones``, ``image_id`` and ``security_group_id`` into every place of the cluster file
    that holds them, keeping its layout and comments; the result is validated with Ray's schema before it
    replaces the file (atomically). Returns the new content as a mapping."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    values = {"region": region, "availability_zone": ",".join(zones), "ImageId": image_id,
              "SecurityGroupIds": f"[{security_group_id}]"}
    for key, pattern in _EDITS.items():
        text, count = pattern.subn(lambda match: match.group(1) + values[key] + match.group(3), text)
        if not count:
            raise AwsError(f"{path} has no '{key}:' line to fill in. Fix: restore it from the shipped "
                           f"dqn_example/dqn_autoscaler.yaml, or set {key} by hand.")
    data = yaml.safe_load(text)
    nodes = data["available_node_types"].values()
    if data["provider"].get("region") != region or any(
            node["node_config"].get("ImageId") != image_id
            or node["node_config"].get("SecurityGroupIds") != [security_group_id] for node in nodes):
        raise AwsError(f"could not set the region, ImageId and SecurityGroupIds of every node type in {path}. "
                       f"Fix: set them by hand: region {region}, ImageId {image_id}, "
                       f"SecurityGroupIds [{security_group_id}].")
    validate(data, str(path))
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return data
