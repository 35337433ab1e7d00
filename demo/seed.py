#!/usr/bin/env python3
"""Seeds a small "staging twin" into an AWS emulator (moto) for firedrill's demo, tests and
benchmark, and prints what it made as JSON on stdout.

    python demo/seed.py --endpoint http://127.0.0.1:5000 [--instances 6] [--untagged 0]

It refuses any endpoint that is not on loopback: it is never pointed at real AWS.

What it makes, in us-east-1 (account 123456789012 under moto):
- a VPC over 3 zones (us-east-1a/b/c), one subnet per zone;
- N instances spread over the zones, tagged app=shop env=staging firedrill=allowed
  (plus --untagged more carrying app=shop but no opt-in tag);
- one data volume per zone, attached to the first instance there as /dev/sdf;
- an Auto Scaling group `shop-web` over the 3 subnets (2 instances);
- an Aurora cluster `shop-db` (writer in us-east-1a, reader in us-east-1b);
- an IAM role `shop-app` and a user `shop-deployer` with an active access key;
- CloudWatch alarms `shop-5xx` and `shop-latency`, both set to OK;
- the IAM role `firedrill-fis` that AWS FIS experiments run as (seed_fis).
Every firedrill target carries the opt-in tag firedrill=allowed.
"""
import argparse
import json
import sys
from urllib.parse import urlparse

import boto3

REGION = "us-east-1"
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
OPT_IN = {"Key": "firedrill", "Value": "allowed"}
APP = [{"Key": "app", "Value": "shop"}, {"Key": "env", "Value": "staging"}]
AMI = "ami-12c6146b"  # one of moto's built-in AMIs


def client(name, endpoint):
    return boto3.client(
        name,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--instances", type=int, default=6)
    ap.add_argument("--untagged", type=int, default=0)
    ap.add_argument("--minimal", action="store_true", help="only the VPC, subnets and instances (for the benchmark)")
    ap.add_argument("--per-launch", type=int, default=500,
                    help="instances per RunInstances call, i.e. per reservation (Auto Scaling launches 1)")
    a = ap.parse_args()
    host = urlparse(a.endpoint).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"seed.py only talks to an emulator on loopback, not {host}")

    ec2 = client("ec2", a.endpoint)
    out = {"region": REGION, "zones": ZONES}

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=APP + [{"Key": "Name", "Value": "shop-staging"}])
    subnets = []
    for i, zone in enumerate(ZONES):
        s = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i * 16}.0/20", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        ec2.create_tags(Resources=[s], Tags=APP + [OPT_IN, {"Key": "Name", "Value": f"shop-{zone}"}])
        subnets.append(s)
    out["vpc"] = vpc
    out["subnets"] = dict(zip(ZONES, subnets))

    # Instances, round-robin over the zones, in batches (RunInstances takes MaxCount).
    instances = {z: [] for z in ZONES}
    for zi, (zone, subnet) in enumerate(zip(ZONES, subnets)):
        n = a.instances // 3 + (1 if zi < a.instances % 3 else 0)
        while n > 0:
            batch = min(n, max(1, a.per_launch))
            r = ec2.run_instances(
                ImageId=AMI,
                MinCount=batch,
                MaxCount=batch,
                InstanceType="t3.micro",
                SubnetId=subnet,
                TagSpecifications=[{"ResourceType": "instance", "Tags": APP + [OPT_IN]}],
            )
            instances[zone] += [i["InstanceId"] for i in r["Instances"]]
            n -= batch
    out["instances"] = instances
    untagged = []
    if a.untagged:
        r = ec2.run_instances(
            ImageId=AMI,
            MinCount=a.untagged,
            MaxCount=a.untagged,
            SubnetId=subnets[0],
            TagSpecifications=[{"ResourceType": "instance", "Tags": APP}],
        )
        untagged = [i["InstanceId"] for i in r["Instances"]]
    out["untagged_instances"] = untagged
    out["nacls"] = {
        s: ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [s]}])["NetworkAcls"][0][
            "NetworkAclId"
        ]
        for s in subnets
    }
    if a.minimal:
        print(json.dumps(out, indent=2))
        return

    volumes = {}
    for zone in ZONES:
        if not instances[zone]:
            continue
        v = ec2.create_volume(
            AvailabilityZone=zone,
            Size=10,
            TagSpecifications=[{"ResourceType": "volume", "Tags": APP + [OPT_IN, {"Key": "role", "Value": "data"}]}],
        )["VolumeId"]
        ec2.attach_volume(VolumeId=v, InstanceId=instances[zone][0], Device="/dev/sdf")
        volumes[v] = {"instance": instances[zone][0], "device": "/dev/sdf"}
    out["volumes"] = volumes

    asg = client("autoscaling", a.endpoint)
    lt = ec2.create_launch_template(
        LaunchTemplateName="shop-web", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="shop-web",
        LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
        MinSize=2,
        MaxSize=6,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(subnets),
        Tags=[
            {"Key": t["Key"], "Value": t["Value"], "PropagateAtLaunch": False, "ResourceId": "shop-web",
             "ResourceType": "auto-scaling-group"}
            for t in APP + [OPT_IN]
        ],
    )
    out["asg"] = {"name": "shop-web", "vpc_zone_identifier": ",".join(subnets)}

    rds = client("rds", a.endpoint)
    rds_tags = APP + [OPT_IN]
    rds.create_db_cluster(
        DBClusterIdentifier="shop-db",
        Engine="aurora-postgresql",
        MasterUsername="shop",
        MasterUserPassword="not-a-secret-1",
        AvailabilityZones=ZONES,
        Tags=rds_tags,
    )
    for name, zone in (("shop-db-1", ZONES[0]), ("shop-db-2", ZONES[1])):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier="shop-db",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            AvailabilityZone=zone,
            Tags=rds_tags,
        )
    out["db_cluster"] = "shop-db"

    iam = client("iam", a.endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="shop-app", AssumeRolePolicyDocument=json.dumps(trust), Tags=APP + [OPT_IN])
    iam.create_user(UserName="shop-deployer", Tags=APP + [OPT_IN])
    key = iam.create_access_key(UserName="shop-deployer")["AccessKey"]["AccessKeyId"]
    out["role"] = {"name": "shop-app", "arn": role["Role"]["Arn"]}
    out["user"] = {"name": "shop-deployer", "access_key": key}

    cw = client("cloudwatch", a.endpoint)
    for alarm in ("shop-5xx", "shop-latency"):
        cw.put_metric_alarm(
            AlarmName=alarm,
            MetricName="HTTPCode_Target_5XX_Count" if alarm == "shop-5xx" else "TargetResponseTime",
            Namespace="AWS/ApplicationELB",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=10,
            ComparisonOperator="GreaterThanThreshold",
        )
        cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="seeded by firedrill demo")
    out["alarms"] = ["shop-5xx", "shop-latency"]
    out["fis"] = seed_fis(a.endpoint)
    print(json.dumps(out, indent=2))


def seed_fis(endpoint):
    """What an inline `fis_experiment` needs besides the shop (scenarios/az-power-interruption.yaml):
    the role FIS runs the experiment as, trusted by FIS. Its targets (the zone's data volume,
    `shop-app`, `shop-web`) are seeded above with the opt-in tag."""
    iam = client("iam", endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="firedrill-fis", AssumeRolePolicyDocument=json.dumps(trust))
    return {"role_arn": role["Role"]["Arn"]}


if __name__ == "__main__":
    main()
