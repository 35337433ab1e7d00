#!/usr/bin/env python3
"""Seeds two estates into moto for the `firedrill audit` tests and prints what it made as
JSON: one deliberately fragile (tag app=fragile: one single point of failure of each kind
the audit finds) and its healthy twin (tag app=healthy: the same resources built to
survive a zone, spread over two regions, that must give no finding at all).

    python tests/it/support/audit_estate.py --endpoint http://127.0.0.1:PORT

The old access key needs a moto whose keys of users named `aged-*` were made 200 days ago:
tests/it/support/moto_aged_keys.py (moto cannot backdate a key through its API).
It refuses any endpoint off loopback.
"""
import argparse
import json
import sys
from urllib.parse import urlparse

import boto3

AMI = "ami-12c6146b"
ACCOUNT = "123456789012"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    a = ap.parse_args()
    if urlparse(a.endpoint).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("audit_estate.py only talks to an emulator on loopback")

    def client(name, region="us-east-1"):
        return boto3.client(name, region_name=region, endpoint_url=a.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    out = {}
    iam = client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    everything = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::shop-assets/*"}]})

    for app in ("fragile", "healthy"):
        tags = [{"Key": "app", "Value": app}]
        o = out[app] = {}
        zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
        ec2 = client("ec2")

        # IAM: the role the instances share (all-powerful when fragile), a user with a key.
        role = f"{app}-app"
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Tags=tags)
        iam.put_role_policy(RoleName=role, PolicyName="app", PolicyDocument=everything if app == "fragile" else narrow)
        iam.create_instance_profile(InstanceProfileName=role)
        iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
        user = "aged-fragile-deployer" if app == "fragile" else "healthy-deployer"
        iam.create_user(UserName=user, Tags=tags)
        o["access_key"] = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        o["role"], o["user"] = role, user

        # Network: one subnet per zone; NAT gateways (one for all zones when fragile).
        vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16" if app == "fragile" else "10.2.0.0/16")["Vpc"]["VpcId"]
        subnets = {}
        for i, z in enumerate(zones):
            s = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{1 if app == 'fragile' else 2}.{i * 16}.0/20",
                                  AvailabilityZone=z)["Subnet"]["SubnetId"]
            ec2.create_tags(Resources=[s], Tags=tags)
            subnets[z] = s
        o["subnets"] = subnets
        nats = {}
        for z in (zones[:1] if app == "fragile" else zones):
            eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
            nats[z] = ec2.create_nat_gateway(SubnetId=subnets[z], AllocationId=eip,
                                             TagSpecifications=[{"ResourceType": "natgateway", "Tags": tags}]
                                             )["NatGateway"]["NatGatewayId"]
        o["nat_gateways"] = nats
        for z in zones:
            rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            nat = nats.get(z) or nats[zones[0]]
            ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
            ec2.associate_route_table(RouteTableId=rt, SubnetId=subnets[z])

        # Standalone instances: both in one zone when fragile, one per zone when healthy.
        spots = [zones[0], zones[0]] if app == "fragile" else zones
        instances = []
        for z in spots:
            r = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnets[z],
                                  IamInstanceProfile={"Name": role},
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
            instances.append(r["Instances"][0]["InstanceId"])
        o["instances"] = instances
        # Data volumes: both in one zone when fragile, in two zones when healthy.
        volumes = []
        for i, inst in enumerate(instances[:2]):
            z = spots[i]
            v = ec2.create_volume(AvailabilityZone=z, Size=10, TagSpecifications=[
                {"ResourceType": "volume", "Tags": tags + [{"Key": "role", "Value": "data"}]}])["VolumeId"]
            ec2.attach_volume(VolumeId=v, InstanceId=inst, Device="/dev/sdf")
            volumes.append(v)
        o["volumes"] = volumes

        # The web group: one subnet and min 2 when fragile; three zones, N+1 when healthy.
        asg = client("autoscaling")
        lt = ec2.create_launch_template(LaunchTemplateName=f"{app}-web",
                                        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
                                        )["LaunchTemplate"]["LaunchTemplateId"]
        group_subnets = [subnets[zones[0]]] if app == "fragile" else list(subnets.values())
        asg.create_auto_scaling_group(
            AutoScalingGroupName=f"{app}-web", LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
            MinSize=2 if app == "fragile" else 0, MaxSize=6, DesiredCapacity=2 if app == "fragile" else 0,
            VPCZoneIdentifier=",".join(group_subnets),
            Tags=[{"Key": "app", "Value": app, "PropagateAtLaunch": False, "ResourceId": f"{app}-web",
                   "ResourceType": "auto-scaling-group"}])
        if app == "healthy":
            # moto launches a group's instances in its first subnet only; AWS spreads them.
            # One instance per zone, attached, is what AWS would run.
            members = [ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                         SubnetId=subnets[z])["Instances"][0]["InstanceId"] for z in zones]
            asg.attach_instances(AutoScalingGroupName=f"{app}-web", InstanceIds=members)
            asg.update_auto_scaling_group(AutoScalingGroupName=f"{app}-web", MinSize=2, DesiredCapacity=3)
        o["group"] = f"{app}-web"

        elb = client("elbv2")
        lb = elb.create_load_balancer(Name=f"{app}-lb", Subnets=list(subnets.values())[:2], Tags=tags)
        o["load_balancer"] = lb["LoadBalancers"][0]["LoadBalancerName"]

        # Databases: a cluster with no reader elsewhere and a single-AZ instance when fragile.
        rds = client("rds")
        rds.create_db_cluster(DBClusterIdentifier=f"{app}-db", Engine="aurora-postgresql", MasterUsername="app",
                              MasterUserPassword="not-a-secret-1", AvailabilityZones=zones, Tags=tags)
        members = [(f"{app}-db-1", zones[0])] + ([] if app == "fragile" else [(f"{app}-db-2", zones[1])])
        for name, z in members:
            rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier=f"{app}-db",
                                   Engine="aurora-postgresql", DBInstanceClass="db.r6g.large",
                                   AvailabilityZone=z, Tags=tags)
        pg = dict(DBInstanceIdentifier=f"{app}-pg", Engine="postgres", DBInstanceClass="db.t3.micro",
                  AllocatedStorage=20, MasterUsername="app", MasterUserPassword="not-a-secret-1", Tags=tags)
        if app == "fragile":
            pg.update(AvailabilityZone=zones[0], MultiAZ=False)
        else:
            pg.update(MultiAZ=True)
        rds.create_db_instance(**pg)
        o["db_cluster"], o["db_instance"] = f"{app}-db", f"{app}-pg"

        # A cache: every node in one zone when fragile.
        ecache = client("elasticache")
        ecache.create_replication_group(
            ReplicationGroupId=f"{app}-cache", ReplicationGroupDescription=app, Engine="redis",
            CacheNodeType="cache.t3.micro", ReplicasPerNodeGroup=1, AutomaticFailoverEnabled=app != "fragile",
            PreferredCacheClusterAZs=[zones[0], zones[0] if app == "fragile" else zones[1]], Tags=tags)
        o["cache"] = f"{app}-cache"

        # An alarm on the group: paging no one when fragile.
        cw = client("cloudwatch")
        actions = [] if app == "fragile" else [f"arn:aws:sns:us-east-1:{ACCOUNT}:{app}-oncall"]
        cw.put_metric_alarm(AlarmName=f"{app}-cpu", MetricName="CPUUtilization", Namespace="AWS/EC2",
                            Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=90,
                            ComparisonOperator="GreaterThanThreshold", AlarmActions=actions,
                            Dimensions=[{"Name": "AutoScalingGroupName", "Value": f"{app}-web"}])
        o["alarm"] = f"{app}-cpu"

    # The healthy twin also runs in a second region (two instances in two zones).
    ec2w = client("ec2", "us-west-2")
    vpc = ec2w.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    west = []
    for i, z in enumerate(["us-west-2a", "us-west-2b"]):
        s = ec2w.create_subnet(VpcId=vpc, CidrBlock=f"10.3.{i * 16}.0/20", AvailabilityZone=z)["Subnet"]["SubnetId"]
        r = ec2w.run_instances(ImageId=AMI, MinCount=1, MaxCount=1,
                               InstanceType="t3.micro", SubnetId=s,
                               TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "healthy"}]}])
        west.append(r["Instances"][0]["InstanceId"])
    out["healthy"]["west_instances"] = west
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
