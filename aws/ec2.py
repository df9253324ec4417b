"""EC2 operations behind ``aws_helper.py``: the session and its region, key pairs, the security group, the
base AMI, instances and images.

Every failure a user can fix becomes an :class:`AwsError` whose message names the problem and the fix. Long
waits log their progress every ``PROGRESS_EVERY_S`` seconds.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import ipaddress
import logging
import os
import pathlib
import stat
import time
from typing import Any, Callable, Iterator

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers
import botocore.session

log = logging.getLogger("aws_helper")

#: Public SSM parameter with the newest AWS Deep Learning Base GPU AMI for Ubuntu 22.04 (x86_64, NVIDIA driver).
DLAMI_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
#: ``describe_images`` name filter for the same AMI family, used where the SSM parameter cannot be read.
DLAMI_NAME = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
#: Ports opened to ``--allowed-cidr``; all traffic is open only between members of the group (the Ray cluster).
#: TensorBoard (6006) and the Ray dashboard (8265) listen on localhost only: they are reached through SSH tunnels.
OPEN_PORTS = {22: "SSH"}
#: Tag key naming the ``--name`` an instance or image was made for; the role tag says builder or instance.
NAME_TAG, ROLE_TAG = "rllib-integration:name", "rllib-integration:role"
PROGRESS_EVERY_S = 15.0
_WORLD = ("0.0.0.0/0", "::/0")
#: Narrowest prefix accepted for ``--allowed-cidr`` without ``--allow-wide-cidr`` (IPv4, IPv6).
WIDEST_PREFIX = {4: 16, 6: 48}
#: Seconds to connect to an AWS endpoint and, by default, to wait for its answer; each request makes
#: :data:`ATTEMPTS` attempts.
CONNECT_TIMEOUT_S, READ_TIMEOUT_S, ATTEMPTS = 10.0, 60.0, 3


class AwsError(Exception):
    """A failure with its fix, printed by ``aws_helper.py`` as ``error: ...``."""


# -- session, region and errors ------------------------------------------------------------------------------

def known_regions(session: boto3.Session) -> list[str]:
    """EC2 regions of every AWS partition, from botocore's offline endpoint data."""
    return sorted({region for partition in ("aws", "aws-cn", "aws-us-gov")
                   for region in session.get_available_regions("ec2", partition_name=partition)})


def make_session(region: str | None, read_timeout: float = READ_TIMEOUT_S) -> boto3.Session:
    """A boto3 session for ``region`` (else the configured one), checked for a known region and credentials;
    its clients give up on an endpoint that does not connect or answer in time (see :func:`aws_errors`)."""
    core = botocore.session.get_session()
    core.set_default_client_config(botocore.config.Config(
        connect_timeout=min(CONNECT_TIMEOUT_S, read_timeout), read_timeout=read_timeout,
        retries={"max_attempts": ATTEMPTS, "mode": "standard"}))
    session = boto3.Session(region_name=region, botocore_session=core) if region else \
        boto3.Session(botocore_session=core)
    name = session.region_name
    if not name:
        raise AwsError("no AWS region is configured. Fix: pass --region (e.g. --region eu-west-3), set "
                       "AWS_DEFAULT_REGION, or run `aws configure`.")
    regions = known_regions(session)
    if name not in regions:
        close = difflib.get_close_matches(name, regions, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise AwsError(f"unknown AWS region '{name}'; {hint}Fix: pass --region with one of: {', '.join(regions)}.")
    if session.get_credentials() is None:
        raise AwsError("no AWS credentials found. Fix: run `aws configure`, set AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY, or select a profile with AWS_PROFILE.")
    return session


_CREDENTIAL_CODES = {"AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch",
                     "AccessDenied", "AccessDeniedException", "ExpiredToken", "RequestExpired"}


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn boto errors raised while doing ``action`` into :class:`AwsError` with a fix."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError as error:
        raise AwsError(f"{action}: no AWS credentials found. Fix: run `aws configure` or set AWS_ACCESS_KEY_ID "
                       f"and AWS_SECRET_ACCESS_KEY.") from error
    except (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError) as error:
        raise AwsError(f"{action}: AWS did not answer in time ({error}; {ATTEMPTS} attempts). Fix: check the "
                       f"network, a proxy or AWS_ENDPOINT_URL; --aws-timeout waits longer for slow answers.") from error
    except botocore.exceptions.EndpointConnectionError as error:
        raise AwsError(f"{action}: cannot reach AWS ({error}). Fix: check the network and --region.") from error
    except botocore.parsers.ResponseParserError as error:
        raise AwsError(f"{action}: the endpoint's answer is not an AWS response ({str(error)[:200]}). Fix: check "
                       f"AWS_ENDPOINT_URL and any proxy between you and AWS.") from error
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code in _CREDENTIAL_CODES:
            raise AwsError(f"{action}: AWS refused the request ({code}: {message}). Fix: check the credentials "
                           f"and that their IAM policy allows this EC2 action.") from error
        if code.startswith("InvalidInstanceID"):
            raise AwsError(f"{action}: unknown instance ({message}). Fix: check --instance-id and --region "
                           f"(an instance is only seen from its own region).") from error
        if code == "OptInRequired":
            raise AwsError(f"{action}: the region is not enabled for this account ({message}). Fix: enable it "
                           f"in the AWS console or pass another --region.") from error
        raise AwsError(f"{action}: {code}: {message}") from error
    except botocore.exceptions.BotoCoreError as error:  # anything else of botocore's: one line, not a traceback
        raise AwsError(f"{action}: {type(error).__name__}: {error}") from error


def wait_until(describe: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout_s: float,
               interval_s: float = 5.0, failed: Callable[[Any], str | None] = lambda value: None) -> Any:
    """Poll ``describe`` until ``done``; log progress every :data:`PROGRESS_EVERY_S` seconds and raise
    :class:`AwsError` on ``failed`` (a reason) or after ``timeout_s``."""
    started = last_report = time.monotonic()
    while True:
        value = describe()
        if done(value):
            log.info("%s: done after %.0f s", what, time.monotonic() - started)
            return value
        reason = failed(value)
        if reason:
            raise AwsError(f"{what}: failed ({reason}).")
        now = time.monotonic()
        if now - started > timeout_s:
            raise AwsError(f"{what}: still not done after {timeout_s:.0f} s. Fix: check the AWS console; "
                           f"run the command again to go on waiting.")
        if now - last_report >= PROGRESS_EVERY_S:
            log.info("%s: waiting (%.0f s)", what, now - started)
            last_report = now
        time.sleep(interval_s)


# -- key pairs ------------------------------------------------------------------------------------------------

def keys_folder(path: str | os.PathLike) -> pathlib.Path:
    """The folder of private keys, created owner-only (0700); a folder others can read is tightened."""
    folder = pathlib.Path(path).expanduser()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        folder.chmod(0o700)
    return folder


def pem_path(keys_dir: str | os.PathLike, key_name: str) -> pathlib.Path:
    """Where the private key of EC2 key pair ``key_name`` is kept."""
    return pathlib.Path(keys_dir).expanduser() / f"{key_name}.pem"


def ensure_key_pair(ec2: Any, key_name: str, keys_dir: str | os.PathLike) -> pathlib.Path:
    """The local private key of key pair ``key_name``, creating the pair (and the 0600 key file) if needed."""
    path = pem_path(keys_folder(keys_dir), key_name)
    with aws_errors(f"looking up key pair {key_name}"):
        pairs = ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [key_name]}])["KeyPairs"]
    if pairs:
        if not path.is_file():
            raise AwsError(f"key pair '{key_name}' exists in this region but its private key is not at {path}. "
                           f"Fix: copy the key there (chmod 600), or pass another --key-name to create a new pair.")
        log.info("key pair %s: using %s", key_name, path)
        return path
    if path.exists():
        raise AwsError(f"{path} exists but key pair '{key_name}' does not exist in this region. Fix: pass another "
                       f"--key-name, or move the stale file away.")
    with aws_errors(f"creating key pair {key_name}"):
        material = ec2.create_key_pair(KeyName=key_name, KeyType="rsa")["KeyMaterial"]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(material)
    log.info("key pair %s: created, private key saved to %s (owner-only)", key_name, path)
    return path


# -- network ----------------------------------------------------------------------------------------------------

def parse_cidr(text: str, allow_wide: bool = False) -> str:
    """A CIDR block from ``--allowed-cidr`` (an address alone means /32 or /128); the whole internet is always
    refused, and a block wider than /16 (IPv6: /48) unless ``allow_wide``."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as error:
        raise AwsError(f"--allowed-cidr {text!r} is not an IP address or CIDR block. Fix: pass your address, "
                       f"e.g. --allowed-cidr $(curl -s https://checkip.amazonaws.com)/32.") from error
    if network.prefixlen == 0:
        raise AwsError(f"--allowed-cidr {text} would open SSH to the whole internet. Fix: pass "
                       f"your own address or network, e.g. --allowed-cidr 203.0.113.7/32.")
    widest = WIDEST_PREFIX[network.version]
    if network.prefixlen < widest and not allow_wide:
        raise AwsError(f"--allowed-cidr {text} opens SSH to {network.num_addresses:,} "
                       f"addresses. Fix: pass your own address (/32) or network (/{widest} or narrower), or add "
                       f"--allow-wide-cidr if you really mean it.")
    return str(network)


def default_vpc(ec2: Any) -> str:
    """The id of the region's default VPC."""
    with aws_errors("looking up the default VPC"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise AwsError("this region has no default VPC. Fix: run `aws ec2 create-default-vpc` once, or use "
                       "another --region.")
    return vpcs[0]["VpcId"]


def _rules(group: dict) -> set[tuple]:
    """(protocol, from port, to port, source) of every ingress rule of a described group."""
    rules = set()
    for permission in group.get("IpPermissions", []):
        key = (permission.get("IpProtocol"), permission.get("FromPort"), permission.get("ToPort"))
        rules.update(key + (entry["CidrIp"],) for entry in permission.get("IpRanges", []))
        rules.update(key + (entry["CidrIpv6"],) for entry in permission.get("Ipv6Ranges", []))
        rules.update(key + (entry["GroupId"],) for entry in permission.get("UserIdGroupPairs", []))
    return rules


def ensure_security_group(ec2: Any, name: str, vpc_id: str, allowed_cidr: str | None) -> str:
    """The id of security group ``name`` in ``vpc_id``: all traffic between its members (Ray nodes), and the
    :data:`OPEN_PORTS` from ``allowed_cidr`` only. ``allowed_cidr`` is required while SSH is not open yet."""
    with aws_errors(f"looking up security group {name}"):
        groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]},
                                                       {"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    opens_ssh = bool(groups) and any(rule[:3] == ("tcp", 22, 22) and "/" in rule[3] for rule in _rules(groups[0]))
    if allowed_cidr is None and not opens_ssh:
        raise AwsError(f"security group '{name}' does not open SSH yet, so --allowed-cidr is required. Fix: pass "
                       f"--allowed-cidr with your address, e.g. $(curl -s https://checkip.amazonaws.com)/32.")
    if groups:
        group_id = groups[0]["GroupId"]
    else:
        description = (f"rllib-integration: SSH from {allowed_cidr}, all traffic within the group; "
                       f"created {datetime.date.today().isoformat()} by aws_helper.py")
        with aws_errors(f"creating security group {name}"):
            group_id = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id)["GroupId"]
        log.info("security group %s: created (%s)", name, group_id)
    with aws_errors(f"reading security group {name}"):
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    present = _rules(group)
    wanted = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id, "Description": "Ray cluster nodes"}]}]
    if allowed_cidr:
        ranges = "Ipv6Ranges" if ":" in allowed_cidr else "IpRanges"
        field = "CidrIpv6" if ":" in allowed_cidr else "CidrIp"
        wanted += [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                    ranges: [{field: allowed_cidr, "Description": label}]} for port, label in OPEN_PORTS.items()]
    missing = [rule for rule in wanted if not _rules({"IpPermissions": [rule]}) <= present]
    if missing:
        with aws_errors(f"adding rules to security group {name}"):
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=missing)
        log.info("security group %s: opened %s to %s", name, ", ".join(f"{port} ({label})" for port, label
                                                                      in OPEN_PORTS.items()), allowed_cidr)
    for rule in sorted(present, key=str):
        if rule[3] in _WORLD:
            log.warning("security group %s (%s) lets the whole internet (%s) reach port %s; revoke it with `aws ec2 "
                        "revoke-security-group-ingress --group-id %s ...`", name, group_id, rule[3], rule[1],
                        group_id)
    return group_id


def zones_offering(ec2: Any, instance_types: list[str]) -> list[str]:
    """The availability zones of the region that offer every one of ``instance_types``."""
    zones: set[str] | None = None
    for instance_type in instance_types:
        with aws_errors(f"looking up where {instance_type} is offered"):
            offered = {offer["Location"] for offer in ec2.describe_instance_type_offerings(
                LocationType="availability-zone",
                Filters=[{"Name": "instance-type", "Values": [instance_type]}])["InstanceTypeOfferings"]}
        if not offered:
            raise AwsError(f"instance type {instance_type} is not offered in {ec2.meta.region_name}. Fix: pass "
                           f"another instance type or --region.")
        zones = offered if zones is None else zones & offered
    if not zones:
        raise AwsError(f"no availability zone of {ec2.meta.region_name} offers all of {', '.join(instance_types)}. "
                       f"Fix: change an instance type, or pass another --region.")
    return sorted(zones)


def choose_subnet(ec2: Any, vpc_id: str, instance_type: str, zone: str | None = None) -> tuple[str, str]:
    """(subnet id, availability zone): a default subnet of ``vpc_id`` in a zone of this region that offers
    ``instance_type`` (``zone`` if given)."""
    offered = zones_offering(ec2, [instance_type])
    if zone and zone not in offered:
        raise AwsError(f"availability zone {zone} does not offer {instance_type}; zones that do: "
                       f"{', '.join(offered)}. Fix: pass one of them to --availability-zone, or leave it out.")
    with aws_errors("looking up subnets"):
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    by_zone = {subnet["AvailabilityZone"]: subnet["SubnetId"] for subnet in subnets
               if subnet.get("DefaultForAz", True)}
    for candidate in [zone] if zone else offered:
        if candidate in by_zone:
            return by_zone[candidate], candidate
    raise AwsError(f"the default VPC {vpc_id} has no subnet in {zone or ', '.join(offered)}. Fix: run "
                   f"`aws ec2 create-default-subnet --availability-zone ZONE`, or pass another --availability-zone.")


# -- images -------------------------------------------------------------------------------------------------------

def find_base_ami(session: boto3.Session, ec2: Any) -> tuple[str, str]:
    """(id, name) of the newest AWS Deep Learning Base GPU AMI (Ubuntu 22.04) of the region: the public SSM
    parameter, else a ``describe_images`` search of Amazon's images."""
    try:
        image_id = session.client("ssm").get_parameter(Name=DLAMI_PARAMETER)["Parameter"]["Value"]
        return image_id, describe_image(ec2, image_id).get("Name", DLAMI_PARAMETER)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, AwsError) as error:
        log.info("SSM parameter %s unreadable (%s); searching Amazon's images instead", DLAMI_PARAMETER, error)
    with aws_errors("searching for the Deep Learning AMI"):
        images = ec2.describe_images(Owners=["amazon"], Filters=[
            {"Name": "name", "Values": [DLAMI_NAME]}, {"Name": "architecture", "Values": ["x86_64"]},
            {"Name": "state", "Values": ["available"]}])["Images"]
    if not images:
        raise AwsError(f"no '{DLAMI_NAME}' image found in this region. Fix: pass --base-ami-id with an Ubuntu "
                       f"22.04 AMI that has the NVIDIA driver.")
    newest = max(images, key=lambda image: image.get("CreationDate", ""))
    return newest["ImageId"], newest["Name"]


def describe_image(ec2: Any, image_id: str) -> dict:
    """The description of AMI ``image_id``."""
    with aws_errors(f"looking up AMI {image_id}"):
        images = ec2.describe_images(ImageIds=[image_id])["Images"]
    if not images:
        raise AwsError(f"AMI {image_id} does not exist in this region. Fix: check the id and --region.")
    return images[0]


def find_own_image(ec2: Any, name: str) -> dict:
    """The newest available AMI that ``create-image --name NAME`` made in this account and region."""
    with aws_errors(f"looking up images named {name}"):
        images = ec2.describe_images(Owners=["self"], Filters=[{"Name": f"tag:{NAME_TAG}", "Values": [name]},
                                                               {"Name": "state", "Values": ["available"]}])["Images"]
    if not images:
        raise AwsError(f"no AMI made by `create-image --name {name}` in this region. Fix: run create-image first, "
                       f"or pass --ami-id.")
    return max(images, key=lambda image: image.get("CreationDate", ""))


def create_image(ec2: Any, instance_id: str, name: str, timeout_s: float = 3600.0) -> str:
    """Make an AMI of ``instance_id`` named ``NAME-<UTC time>`` and tagged with ``name``; wait until it is
    available. Returns its id."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    tags = [{"Key": NAME_TAG, "Value": name}, {"Key": "Name", "Value": name}]
    with aws_errors(f"creating an image of {instance_id}"):
        image_id = ec2.create_image(InstanceId=instance_id, Name=f"{name}-{stamp}",
                                    Description="CARLA 0.9.16 + rllib-integration (aws/install/install.sh)",
                                    TagSpecifications=[{"ResourceType": "image", "Tags": tags}])["ImageId"]
    log.info("image %s: creating from %s", image_id, instance_id)

    def describe() -> dict:
        with aws_errors(f"waiting for image {image_id}"):
            return ec2.describe_images(ImageIds=[image_id])["Images"][0]

    wait_until(describe, lambda image: image["State"] == "available", f"image {image_id}", timeout_s,
               interval_s=10.0, failed=lambda image: image.get("StateReason", {}).get("Message", image["State"])
               if image["State"] in ("failed", "error", "invalid", "deregistered") else None)
    return image_id


# -- instances ---------------------------------------------------------------------------------------------------

def run_instance(ec2: Any, *, name: str, role: str, image_id: str, instance_type: str, key_name: str,
                 security_group_id: str, subnet_id: str, volume_size: int, user_data: str = "") -> str:
    """Start one instance (tagged Name, ``NAME_TAG`` and ``ROLE_TAG`` at creation) with a gp3 root volume of
    ``volume_size`` GiB on the AMI's own root device; returns its id."""
    root_device = describe_image(ec2, image_id).get("RootDeviceName", "/dev/sda1")
    tags = [{"Key": "Name", "Value": name}, {"Key": NAME_TAG, "Value": name}, {"Key": ROLE_TAG, "Value": role}]
    with aws_errors(f"starting a {instance_type} instance"):
        instance = ec2.run_instances(
            ImageId=image_id, InstanceType=instance_type, KeyName=key_name, MinCount=1, MaxCount=1,
            NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet_id, "Groups": [security_group_id],
                                "AssociatePublicIpAddress": True}],
            BlockDeviceMappings=[{"DeviceName": root_device, "Ebs": {
                "VolumeSize": volume_size, "VolumeType": "gp3", "DeleteOnTermination": True}}],
            UserData=user_data, TagSpecifications=[{"ResourceType": "instance", "Tags": tags},
                                                   {"ResourceType": "volume", "Tags": tags}])["Instances"][0]
    log.info("instance %s: launched (%s, %s, %s)", instance["InstanceId"], instance_type, image_id,
             instance["Placement"]["AvailabilityZone"])
    return instance["InstanceId"]


def get_instance(ec2: Any, instance_id: str) -> dict:
    """The description of ``instance_id``; an unknown id is an :class:`AwsError` naming the region."""
    with aws_errors(f"looking up instance {instance_id}"):
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instances = [instance for reservation in reservations for instance in reservation["Instances"]]
    if not instances:
        raise AwsError(f"unknown instance {instance_id} in {ec2.meta.region_name}. Fix: check --instance-id "
                       f"and --region.")
    return instances[0]


def wait_for_state(ec2: Any, instance_id: str, state: str, timeout_s: float = 900.0) -> dict:
    """Wait until ``instance_id`` reaches ``state`` (and, when running, has its public IP); returns it."""
    def ready(instance: dict) -> bool:
        reached = instance["State"]["Name"] == state
        return reached and (state != "running" or bool(instance.get("PublicIpAddress")))

    def failed(instance: dict) -> str | None:
        current = instance["State"]["Name"]
        if state == "running" and current in ("shutting-down", "terminated"):
            return f"it is {current}: {instance.get('StateReason', {}).get('Message', 'no reason given')}"
        return None

    return wait_until(lambda: get_instance(ec2, instance_id), ready, f"instance {instance_id} {state}",
                      timeout_s, failed=failed)


def change_state(ec2: Any, instance_id: str, action: str) -> dict:
    """``start``, ``stop`` or ``terminate`` ``instance_id`` and wait for the resulting state."""
    get_instance(ec2, instance_id)
    target = {"start": "running", "stop": "stopped", "terminate": "terminated"}[action]
    with aws_errors(f"{action} {instance_id}"):
        getattr(ec2, f"{action}_instances")(InstanceIds=[instance_id])
    return wait_for_state(ec2, instance_id, target)


def instance_fields(instance: dict, keys_dir: str | os.PathLike) -> dict[str, str]:
    """What ``info`` shows of an instance; ``pem_file`` is the local private key of its key pair."""
    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
    key_name = instance.get("KeyName", "")
    return {
        "instance_id": instance["InstanceId"], "name": tags.get("Name", ""), "state": instance["State"]["Name"],
        "instance_type": instance.get("InstanceType", ""), "image_id": instance.get("ImageId", ""),
        "public_ip": instance.get("PublicIpAddress", ""), "private_ip": instance.get("PrivateIpAddress", ""),
        "availability_zone": instance.get("Placement", {}).get("AvailabilityZone", ""), "key_name": key_name,
        "pem_file": str(pem_path(keys_dir, key_name)) if key_name else "",
        "security_groups": ",".join(sorted({group["GroupId"] for group in instance.get("SecurityGroups", [])} | {
            group["GroupId"] for interface in instance.get("NetworkInterfaces", [])
            for group in interface.get("Groups", [])})),
        "launch_time": str(instance.get("LaunchTime", "")),
    }
