"""AWS tooling: ``aws_helper.py`` (AMI builder and instance control), its EC2 (``ec2``), SSH (``remote``) and
Ray cluster file (``cluster_config``) modules, and ``install/install.sh`` (run on the AMI builder)."""
