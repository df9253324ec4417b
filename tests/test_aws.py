"""aws_helper's EC2 flows with boto3 against moto's server mode on 127.0.0.1 (real HTTP): key pair, security
group rules, run, tag, wait, create image, stop, start, info; clear errors for missing credentials, unknown
regions and instances, and unsafe CIDRs; create-image end to end with the builder reached over real SSH."""

import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys

import boto3
import pytest
import yaml

from aws import aws_helper, cluster_config, ec2
from aws.ec2 import AwsError
from aws.remote import Remote
from services import SSHD, moto_server, ssh_server

ROOT = pathlib.Path(__file__).resolve().parents[1]
REGION = "eu-west-3"


def image(ami_id: str, name: str, created: str, architecture: str = "x86_64") -> dict:
    """An Amazon-owned AMI in moto's MOTO_AMIS_PATH format."""
    return {"ami_id": ami_id, "state": "available", "public": True, "owner_id": "898082745236",
            "image_location": f"amazon/{name}", "sriov": "simple", "root_device_type": "ebs",
            "root_device_name": "/dev/sda1", "description": name, "image_type": "machine", "platform": None,
            "architecture": architecture, "name": name, "virtualization_type": "hvm", "hypervisor": "xen",
            "creation_date": created}


DLAMI = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) {}"
AMIS = [image("ami-0d1a0000000000001", DLAMI.format("20261001"), "2026-10-01T10:00:00.000Z"),
        image("ami-0d1a0000000000002", DLAMI.format("20261101"), "2026-11-01T10:00:00.000Z"),
        image("ami-0d1a0000000000003", DLAMI.format("20261115"), "2026-11-15T10:00:00.000Z", "arm64"),
        image("ami-0e0b000000000000a", "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20261101",
              "2026-11-01T10:00:00.000Z")]


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto"), amis=AMIS) as server:
        yield server


@pytest.fixture
def aws(moto, monkeypatch, tmp_path):
    """A fresh moto account; boto3 in this process and the CLI subprocesses talk to it over HTTP."""
    moto.reset()
    environment = moto.environment(REGION)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return dict(os.environ, **environment, HOME=str(tmp_path / "home"))


def helper(environment, *args):
    return subprocess.run([sys.executable, "aws/aws_helper.py", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def ingress(client, group_name):
    group = client.describe_security_groups(GroupNames=[group_name])["SecurityGroups"][0]
    return group["GroupId"], sorted(
        (p["IpProtocol"], p.get("FromPort"), r.get("CidrIp") or r.get("GroupId"))
        for p in group["IpPermissions"] for r in p.get("IpRanges", []) + p.get("UserIdGroupPairs", []))


def test_launch_info_stop_start_terminate_through_the_cli(aws, tmp_path):
    keys = tmp_path / "keys"
    launch = helper(aws, "launch", "--ami-id", "ami-0e0b000000000000a", "--allowed-cidr", "203.0.113.7",
                    "--keys-dir", str(keys), "--name", "trainer")
    assert launch.returncode == 0, launch.stderr
    instance_id = re.search(r"instance: (i-[0-9a-f]+)", launch.stdout).group(1)
    pem = keys / "trainer.pem"
    assert f"ssh -i {pem} ubuntu@" in launch.stdout and "-L 6006:localhost:6006" in launch.stdout
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700 and stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    client = boto3.client("ec2")
    group_id, rules = ingress(client, "trainer")
    assert rules == [("-1", None, group_id), ("tcp", 22, "203.0.113.7/32")], "SSH only: dashboards go through tunnels"
    instance = ec2.get_instance(client, instance_id)
    assert instance["State"]["Name"] == "running" and instance["InstanceType"] == "g4dn.2xlarge"
    assert {t["Key"]: t["Value"] for t in instance["Tags"]} == {
        "Name": "trainer", ec2.NAME_TAG: "trainer", ec2.ROLE_TAG: "instance"}
    assert instance["KeyName"] == "trainer" and instance["Placement"]["AvailabilityZone"].startswith(REGION)
    volume_id = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    assert instance["BlockDeviceMappings"][0]["DeviceName"] == "/dev/sda1"
    assert client.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Size"] == 150

    info = helper(aws, "info", "--instance-id", instance_id, "--keys-dir", str(keys))
    assert info.returncode == 0 and f"pem_file:          {pem}" in info.stdout and "state:             running" \
        in info.stdout and group_id in info.stdout
    first_ip = helper(aws, "info", "--instance-id", instance_id, "--field", "public_ip").stdout.strip()
    assert first_ip == instance["PublicIpAddress"]
    stop = helper(aws, "stop", "--instance-id", instance_id)
    assert stop.returncode == 0 and f"{instance_id}: stopped" in stop.stdout
    no_ip = helper(aws, "info", "--instance-id", instance_id, "--field", "public_ip")
    assert no_ip.returncode == 1 and "has no public_ip (it is stopped). Fix: start it." in no_ip.stderr
    start = helper(aws, "start", "--instance-id", instance_id)
    assert start.returncode == 0 and re.search(rf"{instance_id}: running, public ip [\d.]+", start.stdout)

    again = helper(aws, "launch", "--ami-id", "ami-0e0b000000000000a", "--keys-dir", str(keys), "--name", "trainer")
    assert again.returncode == 0, "the group already opens SSH, so --allowed-cidr is not needed again"
    assert ingress(client, "trainer")[1] == rules, "nothing is added twice"
    terminate = helper(aws, "terminate", "--instance-id", instance_id)
    assert terminate.returncode == 0 and f"{instance_id}: terminated" in terminate.stdout


def test_launch_defaults_to_the_newest_image_create_image_made(aws, tmp_path):
    client = boto3.client("ec2")
    keys = ["--keys-dir", str(tmp_path / "keys"), "--allowed-cidr", "198.51.100.0/24"]
    missing = helper(aws, "launch", *keys)
    assert missing.returncode == 1 and "no AMI made by `create-image --name CARLA_RLLIB`" in missing.stderr
    builder = client.run_instances(ImageId="ami-0e0b000000000000a", MinCount=1, MaxCount=1)["Instances"][0]
    made = ec2.create_image(client, builder["InstanceId"], "CARLA_RLLIB", timeout_s=60)
    launch = helper(aws, "launch", *keys)
    assert launch.returncode == 0, launch.stderr
    assert f"(g4dn.2xlarge, {made})" in launch.stdout


def test_clear_errors_name_the_problem_and_the_fix(aws, tmp_path):
    no_credentials = {key: value for key, value in aws.items()
                      if key not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    result = helper(no_credentials, "info", "--instance-id", "i-0123456789abcdef0")
    assert result.returncode == 1 and "no AWS credentials found. Fix: run `aws configure`" in result.stderr
    no_region = {key: value for key, value in aws.items() if key not in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    result = helper(no_region, "info", "--instance-id", "i-0123456789abcdef0")
    assert result.returncode == 1 and "no AWS region is configured. Fix: pass --region" in result.stderr
    result = helper(aws, "info", "--instance-id", "i-0123456789abcdef0", "--region", "eu-wset-3")
    assert result.returncode == 1 and "unknown AWS region 'eu-wset-3'; did you mean eu-west-3" in result.stderr
    result = helper(aws, "info", "--instance-id", "i-0123456789abcdef0")
    assert result.returncode == 1 and "unknown instance" in result.stderr and "--region" in result.stderr
    result = helper(aws, "stop", "--instance-id", "sg-123")
    assert result.returncode == 2 and "'sg-123' is not an EC2 instance id" in result.stderr
    result = helper(aws, "stop")
    assert result.returncode == 2 and "--instance-id" in result.stderr
    keys = ["--keys-dir", str(tmp_path / "keys"), "--ami-id", "ami-0e0b000000000000a"]
    result = helper(aws, "launch", *keys, "--allowed-cidr", "0.0.0.0/0")
    assert result.returncode == 2 and "--allowed-cidr 0.0.0.0/0 would open SSH to the whole internet" in result.stderr
    result = helper(aws, "launch", *keys, "--allowed-cidr", "0.0.0.0/1")
    assert result.returncode == 2 and "opens SSH to 2,147,483,648 addresses" in result.stderr \
        and "--allow-wide-cidr" in result.stderr
    result = helper(aws, "launch", *keys, "--allowed-cidr", "my-laptop")
    assert result.returncode == 2 and "is not an IP address or CIDR block" in result.stderr
    result = helper(aws, "launch", *keys)
    assert result.returncode == 1 and "--allowed-cidr is required" in result.stderr
    result = helper(aws, "launch", *keys, "--allowed-cidr", "203.0.113.7/32", "--instance-type", "g9z.huge")
    assert result.returncode == 1 and "g9z.huge is not offered in eu-west-3" in result.stderr
    assert not boto3.client("ec2").describe_instances()["Reservations"], "nothing was started by a failed launch"
    os.remove(tmp_path / "keys" / "CARLA_RLLIB.pem")
    result = helper(aws, "launch", *keys, "--allowed-cidr", "203.0.113.7/32")
    assert result.returncode == 1 and "key pair 'CARLA_RLLIB' exists in this region but its private key is not at" \
        in result.stderr
    result = helper(aws, "create-image", "--keys-dir", str(tmp_path / "keys"), "--installation-scripts", "nope.sh")
    assert result.returncode == 1 and "installation script" in result.stderr and "nope.sh not found" in result.stderr


def test_the_base_ami_is_the_regions_newest_x86_deep_learning_ami(aws):
    session = ec2.make_session(REGION)
    assert ec2.find_base_ami(session, session.client("ec2")) == ("ami-0d1a0000000000002", DLAMI.format("20261101"))


def test_an_existing_group_gains_the_rules_it_lacks_and_world_rules_are_reported(aws, caplog):
    client = boto3.client("ec2")
    vpc = ec2.default_vpc(client)
    group = client.create_security_group(GroupName="legacy", Description="the original's", VpcId=vpc)["GroupId"]
    client.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    with caplog.at_level("WARNING", logger="aws_helper"):
        assert ec2.ensure_security_group(client, "legacy", vpc, "2001:db8::/48") == group
    assert "lets the whole internet (0.0.0.0/0) reach port 22" in caplog.text
    permissions = client.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    v6 = sorted(p["FromPort"] for p in permissions for r in p.get("Ipv6Ranges", []) if r["CidrIpv6"] == "2001:db8::/48")
    assert v6 == [22]


def test_wait_until_reports_failures_and_time_outs():
    with pytest.raises(AwsError, match="image ami-1: failed \\(no space\\)"):
        ec2.wait_until(lambda: {"State": "failed"}, lambda image: False, "image ami-1", 10, 0,
                       failed=lambda image: "no space")
    with pytest.raises(AwsError, match="still not done after 0 s"):
        ec2.wait_until(lambda: None, lambda value: False, "instance i-1 running", 0, 0)


@pytest.mark.skipif(not os.path.exists(SSHD), reason="needs OpenSSH's sshd (Debian: openssh-server)")
def test_create_image_builds_on_a_builder_reached_over_ssh(aws, tmp_path):
    """The whole create-image flow; the moto builder's SSH is the local sshd, and the installation script a
    stand-in that checks what install.sh relies on: the uploaded project and PROJECT_DIR."""
    script = tmp_path / "install.sh"
    script.write_text('#!/bin/bash\nset -euo pipefail\ntest -f "$PROJECT_DIR/requirements.txt"\n'
                      'test -f "$PROJECT_DIR/aws/install/install.sh"\necho "installed from $PROJECT_DIR"\n'
                      'touch "$PROJECT_DIR/../installed"\n')
    cluster_file = tmp_path / "cluster.yaml"
    shutil.copy(ROOT / "dqn_example" / "dqn_autoscaler.yaml", cluster_file)
    project = tmp_path / "builder" / "rllib-integration"
    with ssh_server(tmp_path / "sshd") as sshd:
        def connect(instance, args):
            assert instance["State"]["Name"] == "running" and instance["PublicIpAddress"]
            return Remote("127.0.0.1", sshd.user, sshd.key, port=sshd.port, alias=instance["InstanceId"],
                          known_hosts=tmp_path / "keys" / "known_hosts")

        args = aws_helper.parse_args(["create-image", "--allowed-cidr", "203.0.113.7/32", "--keys-dir",
                                      str(tmp_path / "keys"), "--installation-scripts", str(script),
                                      "--remote-project-dir", str(project), "--cluster-config", str(cluster_file)])
        assert aws_helper.cmd_create_image(args, connect=connect) == 0
    assert (tmp_path / "builder" / "installed").is_file(), "the installation script ran"
    assert (project / "dqn_train.py").is_file() and (project / "aws" / "install" / "install.sh").is_file()
    assert not (project / ".git").exists() and not (project / ".venv").exists()
    client = boto3.client("ec2")
    images = client.describe_images(Owners=["self"])["Images"]
    assert len(images) == 1 and images[0]["Name"].startswith("CARLA_RLLIB-")
    assert {t["Key"]: t["Value"] for t in images[0]["Tags"]}[ec2.NAME_TAG] == "CARLA_RLLIB"
    builders = [i for r in client.describe_instances()["Reservations"] for i in r["Instances"]]
    assert len(builders) == 1 and builders[0]["ImageId"] == "ami-0d1a0000000000002", "built on the newest DLAMI"
    assert builders[0]["State"]["Name"] == "stopped"
    assert {t["Key"]: t["Value"] for t in builders[0]["Tags"]}[ec2.ROLE_TAG] == "builder"
    filled = cluster_config.load(cluster_file)
    assert cluster_config.placeholders(filled) == [] and filled["provider"]["region"] == REGION
    group_id, _ = ingress(client, "CARLA_RLLIB")
    for node in filled["available_node_types"].values():
        assert node["node_config"]["ImageId"] == images[0]["ImageId"]
        assert node["node_config"]["SecurityGroupIds"] == [group_id]
    assert (tmp_path / "keys" / "known_hosts").read_text().startswith(builders[0]["InstanceId"])


@pytest.mark.skipif(not os.path.exists(SSHD), reason="needs OpenSSH's sshd (Debian: openssh-server)")
def test_a_failed_installation_stops_the_builder_and_makes_no_image(aws, tmp_path):
    script = tmp_path / "install.sh"
    script.write_text("#!/bin/sh\necho 'apt-get: no space left' >&2\nexit 7\n")
    with ssh_server(tmp_path / "sshd") as sshd:
        args = aws_helper.parse_args(["create-image", "--allowed-cidr", "203.0.113.7/32", "--keys-dir",
                                      str(tmp_path / "keys"), "--installation-scripts", str(script),
                                      "--remote-project-dir", str(tmp_path / "builder" / "project")])
        with pytest.raises(AwsError, match="install.sh failed with exit status 7"):
            aws_helper.cmd_create_image(args, connect=lambda instance, args: Remote(
                "127.0.0.1", sshd.user, sshd.key, port=sshd.port, known_hosts=tmp_path / "known_hosts"))
    client = boto3.client("ec2")
    assert client.describe_images(Owners=["self"])["Images"] == []
    states = [i["State"]["Name"] for r in client.describe_instances()["Reservations"] for i in r["Instances"]]
    assert states == ["stopped"]


def test_configure_cluster_fills_the_file_from_the_cli(aws, tmp_path):
    client = boto3.client("ec2")
    builder = client.run_instances(ImageId="ami-0e0b000000000000a", MinCount=1, MaxCount=1)["Instances"][0]
    made = ec2.create_image(client, builder["InstanceId"], "CARLA_RLLIB", timeout_s=60)
    cluster_file = tmp_path / "cluster.yaml"
    shutil.copy(ROOT / "dqn_example" / "dqn_autoscaler.yaml", cluster_file)
    result = helper(aws, "configure-cluster", "--cluster-config", str(cluster_file), "--region", "us-west-2",
                    "--allowed-cidr", "203.0.113.7/32")
    assert result.returncode == 1 and "no AMI made by `create-image --name CARLA_RLLIB` in this region" \
        in result.stderr, "images belong to a region"
    result = helper(aws, "configure-cluster", "--cluster-config", str(cluster_file), "--allowed-cidr",
                    "203.0.113.7/32")
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(cluster_file.read_text())
    assert data["available_node_types"]["carla_worker"]["node_config"]["ImageId"] == made
    assert data["provider"]["availability_zone"] == "eu-west-3a,eu-west-3b,eu-west-3c"
    assert f"next: ray up {cluster_file}" in result.stdout


def test_debug_logs_hold_no_private_key_or_secret(aws, tmp_path):
    """--debug logs botocore's whole CreateKeyPair answer: the new private key is redacted, the rest stays."""
    keys = tmp_path / "keys"
    aws = dict(aws, AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY")  # moto takes any secret
    result = helper(aws, "launch", "--debug", "--ami-id", "ami-0e0b000000000000a", "--allowed-cidr", "203.0.113.7",
                    "--keys-dir", str(keys), "--name", "debugged")
    assert result.returncode == 0, result.stderr[-2000:]
    logged = result.stdout + result.stderr
    body = [line for line in (keys / "debugged.pem").read_text().splitlines() if "PRIVATE KEY" not in line]
    assert len(body) > 10 and not any(line in logged for line in body), "no line of the private key is logged"
    assert "<redacted>" in logged and "CreateKeyPair" in logged, "the call itself is still logged"
    assert aws["AWS_SECRET_ACCESS_KEY"] not in logged


def test_redaction_covers_keys_secrets_and_tokens():
    from aws.redact import redact
    pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEAx\\nabc\\n-----END RSA PRIVATE KEY-----"
    for text, secret in ((f"b'<keyMaterial>{pem}</keyMaterial>'", "MIIEpAIBAAKCAQEAx"),
                         ('{"KeyMaterial": "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Blbn"}', "b3Blbn"),
                         ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI"),
                         ("'X-Amz-Security-Token': b'FwoGZXIvYXdzEJr'", "FwoGZXIvYXdzEJr"),
                         ("Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
                          "fe5f80f77d5fa3"),
                         ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
                         ("RAY_AUTH_TOKEN=0123456789abcdef", "0123456789abcdef")):
        assert secret not in redact(text) and "<redacted>" in redact(text), text


class _Hostile(object):
    """An HTTP endpoint on 127.0.0.1 that accepts and then never answers (``silent``) or answers garbage."""

    def __init__(self, silent: bool) -> None:
        import socket
        import threading
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.silent, self.open = silent, []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.open.append(connection)
            if not self.silent:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 19\r\n\r\n"
                                   b"<<<not xml at all>>")

    def close(self) -> None:
        self.server.close()
        for connection in self.open:
            connection.close()


@pytest.mark.parametrize("silent", [True, False], ids=["never-answers", "garbage"])
def test_an_endpoint_that_never_answers_or_answers_garbage_is_a_clear_error(aws, silent):
    import time
    endpoint = _Hostile(silent)
    try:
        started = time.monotonic()
        result = helper(dict(aws, AWS_ENDPOINT_URL=endpoint.url), "info", "--instance-id", "i-0123456789abcdef0",
                        "--aws-timeout", "1")
        elapsed = time.monotonic() - started
    finally:
        endpoint.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    message = "did not answer in time" if silent else "the endpoint's answer is not an AWS response"
    assert message in result.stderr and "AWS_ENDPOINT_URL" in result.stderr
    assert elapsed < 30
