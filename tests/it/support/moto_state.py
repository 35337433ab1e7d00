#!/usr/bin/env python3
"""Prints, as JSON, every attribute of a moto server's state that a firedrill fault may
touch, so the integration tests can assert "exactly as before" after a revert:
instance states, volume attachments, subnet -> network ACL associations, the ACLs that
carry firedrill's tag, ASG subnets, RDS cluster writers, inline role policies and access
key statuses. Only talks to loopback."""
import argparse
import json
import sys
from urllib.parse import urlparse

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    a = ap.parse_args()
    if urlparse(a.endpoint).hostname not in ("127.0.0.1", "localhost"):
        sys.exit("loopback only")
    kw = dict(region_name="us-east-1", endpoint_url=a.endpoint, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    ec2 = boto3.client("ec2", **kw)
    asg = boto3.client("autoscaling", **kw)
    rds = boto3.client("rds", **kw)
    iam = boto3.client("iam", **kw)

    out = {"instances": {}, "volumes": {}, "nacl_of_subnet": {}, "firedrill_nacls": [], "asg_subnets": {},
           "cluster_writer": {}, "role_policies": {}, "access_keys": {}, "tags": {}}

    def tags(kind, ident, tag_list):
        out["tags"][f"{kind} {ident}"] = sorted(f'{t["Key"]}={t.get("Value", "")}' for t in tag_list or [])
    for page in ec2.get_paginator("describe_instances").paginate():
        for r in page["Reservations"]:
            for i in r["Instances"]:
                out["instances"][i["InstanceId"]] = i["State"]["Name"]
                tags("instance", i["InstanceId"], i.get("Tags"))
    for v in ec2.describe_volumes()["Volumes"]:
        tags("volume", v["VolumeId"], v.get("Tags"))
        out["volumes"][v["VolumeId"]] = sorted(
            f'{x["InstanceId"]} {x["Device"]} {x["State"]}' for x in v.get("Attachments", []))
    for acl in ec2.describe_network_acls()["NetworkAcls"]:
        for assoc in acl.get("Associations", []):
            out["nacl_of_subnet"][assoc["SubnetId"]] = acl["NetworkAclId"]
        if any(t["Key"].startswith("firedrill") for t in acl.get("Tags", [])):
            out["firedrill_nacls"].append(acl["NetworkAclId"])
    for sn in ec2.describe_subnets()["Subnets"]:
        tags("subnet", sn["SubnetId"], sn.get("Tags"))
    for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
        tags("asg", g["AutoScalingGroupName"], g.get("Tags"))
        out["asg_subnets"][g["AutoScalingGroupName"]] = g.get("VPCZoneIdentifier", "")
    for c in rds.describe_db_clusters()["DBClusters"]:
        writers = [m["DBInstanceIdentifier"] for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")]
        out["cluster_writer"][c["DBClusterIdentifier"]] = writers[0] if writers else None
        tags("cluster", c["DBClusterIdentifier"], c.get("TagList"))
    for r in iam.list_roles()["Roles"]:
        out["role_policies"][r["RoleName"]] = sorted(iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"])
        tags("role", r["RoleName"], iam.list_role_tags(RoleName=r["RoleName"])["Tags"])
    for u in iam.list_users()["Users"]:
        keys = iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
        out["access_keys"][u["UserName"]] = {k["AccessKeyId"]: k["Status"] for k in keys}
        tags("user", u["UserName"], iam.list_user_tags(UserName=u["UserName"])["Tags"])
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
