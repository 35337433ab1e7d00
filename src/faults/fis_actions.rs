//! The catalogue of AWS FIS actions an inline `fis_experiment` template may use, from the
//! AWS FIS actions reference: each action's id, the one target key it takes (and the FIS
//! resource type of that target), and the parameters it cannot run without. Validation
//! checks an inline template against it, so that a typo in an action id, a target under
//! the wrong key or a missing `duration` is an error at `validate`, not a failed
//! `CreateExperimentTemplate` half-way through a run. An id far from every one here is
//! passed on as written (AWS adds actions); rows with [`OPEN`] parameters are those whose
//! parameters were not checked against the reference, so none is required of them.

/// One FIS action.
pub struct FisActionSpec {
    /// `aws:SERVICE:ACTION`.
    pub id: &'static str,
    /// The target key the action takes and the FIS resource type of that target; `None`
    /// for an action without targets (`aws:fis:wait`). An empty resource type is not compared.
    pub target: Option<(&'static str, &'static str)>,
    /// The parameters it requires.
    pub required: &'static [&'static str],
}

const fn a(
    id: &'static str,
    target: Option<(&'static str, &'static str)>,
    required: &'static [&'static str],
) -> FisActionSpec {
    FisActionSpec { id, target, required }
}

const INSTANCES: Option<(&str, &str)> = Some(("Instances", "aws:ec2:instance"));
const ROLES: Option<(&str, &str)> = Some(("Roles", "aws:iam:role"));
const SUBNETS: Option<(&str, &str)> = Some(("Subnets", "aws:ec2:subnet"));
const TASKS: Option<(&str, &str)> = Some(("Tasks", "aws:ecs:task"));
const PODS: Option<(&str, &str)> = Some(("Pods", "aws:eks:pod"));
const FUNCTIONS: Option<(&str, &str)> = Some(("Functions", "aws:lambda:function"));
const STREAMS: Option<(&str, &str)> = Some(("KinesisStreams", "aws:kinesis:stream"));
/// The resource type is not compared (FIS has named it two ways for these actions).
const REPLICATION_GROUPS: Option<(&str, &str)> = Some(("ReplicationGroups", ""));
const API_FAULT: &[&str] = &["duration", "service", "percentage", "operations"];
/// No required parameters checked: rows whose parameters firedrill has not checked against
/// the FIS actions reference, so that a correct template is never refused for them; FIS
/// itself checks them when the template is created.
const OPEN: &[&str] = &[];

/// Every FIS action firedrill knows, by id.
pub const ACTIONS: &[FisActionSpec] = &[
    a(
        "aws:arc:start-zonal-autoshift",
        Some(("ManagedResources", "aws:arc:zonal-shift-managed-resource")),
        &["duration", "availabilityZoneIdentifier"],
    ),
    a("aws:cloudwatch:assert-alarm-state", None, &["alarmArns", "alarmStates"]),
    a("aws:dynamodb:global-table-pause-replication", Some(("Tables", "aws:dynamodb:global-table")), OPEN),
    a("aws:ebs:pause-volume-io", Some(("Volumes", "aws:ec2:ebs-volume")), &["duration"]),
    a(
        "aws:ec2:api-insufficient-instance-capacity-error",
        ROLES,
        &["duration", "availabilityZoneIdentifiers", "percentage"],
    ),
    a(
        "aws:ec2:asg-insufficient-instance-capacity-error",
        Some(("AutoScalingGroups", "aws:ec2:autoscaling-group")),
        &["duration", "availabilityZoneIdentifiers", "percentage"],
    ),
    a("aws:ec2:reboot-instances", INSTANCES, &[]),
    a(
        "aws:ec2:send-spot-instance-interruptions",
        Some(("SpotInstances", "aws:ec2:spot-instance")),
        &["durationBeforeInterruption"],
    ),
    a("aws:ec2:stop-instances", INSTANCES, &[]),
    a("aws:ec2:terminate-instances", INSTANCES, &[]),
    a("aws:ecs:drain-container-instances", Some(("Clusters", "aws:ecs:cluster")), &["drainagePercentage", "duration"]),
    a("aws:ecs:stop-task", TASKS, &[]),
    a("aws:ecs:task-cpu-stress", TASKS, OPEN),
    a("aws:ecs:task-io-stress", TASKS, OPEN),
    a("aws:ecs:task-kill-process", TASKS, OPEN),
    a("aws:ecs:task-network-blackhole-port", TASKS, OPEN),
    a("aws:ecs:task-network-latency", TASKS, OPEN),
    a("aws:ecs:task-network-packet-loss", TASKS, OPEN),
    a(
        "aws:eks:inject-kubernetes-custom-resource",
        Some(("Cluster", "aws:eks:cluster")),
        &["kubernetesApiVersion", "kubernetesKind", "kubernetesNamespace", "kubernetesSpec", "maxDuration"],
    ),
    a("aws:eks:pod-cpu-stress", PODS, OPEN),
    a("aws:eks:pod-delete", PODS, OPEN),
    a("aws:eks:pod-io-stress", PODS, OPEN),
    a("aws:eks:pod-memory-stress", PODS, OPEN),
    a("aws:eks:pod-network-blackhole-port", PODS, OPEN),
    a("aws:eks:pod-network-latency", PODS, OPEN),
    a("aws:eks:pod-network-packet-loss", PODS, OPEN),
    a(
        "aws:eks:terminate-nodegroup-instances",
        Some(("Nodegroups", "aws:eks:nodegroup")),
        &["instanceTerminationPercentage"],
    ),
    a("aws:elasticache:interrupt-cluster-az-power", REPLICATION_GROUPS, OPEN),
    a("aws:elasticache:replicationgroup-interrupt-az-power", REPLICATION_GROUPS, OPEN),
    a("aws:fis:inject-api-internal-error", ROLES, API_FAULT),
    a("aws:fis:inject-api-throttle-error", ROLES, API_FAULT),
    a("aws:fis:inject-api-unavailable-error", ROLES, API_FAULT),
    a("aws:fis:wait", None, &["duration"]),
    a("aws:kinesis:stream-expired-iterator-exception", STREAMS, OPEN),
    a("aws:kinesis:stream-provisioned-throughput-exception", STREAMS, OPEN),
    a("aws:lambda:invocation-add-delay", FUNCTIONS, OPEN),
    a("aws:lambda:invocation-error", FUNCTIONS, OPEN),
    a("aws:lambda:invocation-http-integration-response", FUNCTIONS, OPEN),
    a("aws:network:disrupt-connectivity", SUBNETS, &["duration"]),
    a("aws:network:disrupt-vpc-endpoint", Some(("VPCEndpoints", "aws:ec2:vpc-endpoint")), OPEN),
    a("aws:network:route-table-disrupt-cross-region-connectivity", SUBNETS, OPEN),
    a(
        "aws:network:transit-gateway-disrupt-cross-region-connectivity",
        Some(("TransitGateways", "aws:ec2:transit-gateway")),
        OPEN,
    ),
    a("aws:rds:failover-db-cluster", Some(("Clusters", "aws:rds:cluster")), &[]),
    a("aws:rds:reboot-db-instances", Some(("DBInstances", "aws:rds:db")), &[]),
    a("aws:s3:bucket-pause-replication", Some(("Buckets", "aws:s3:bucket")), OPEN),
    a("aws:ssm:send-command", INSTANCES, &["documentArn", "duration"]),
    a("aws:ssm:start-automation-execution", None, &["documentArn", "maxDuration"]),
];

/// The action `id`, if firedrill knows it.
pub fn find(id: &str) -> Option<&'static FisActionSpec> {
    ACTIONS.iter().find(|x| x.id == id)
}

/// The known action id nearest to `id`, for "did you mean".
pub fn nearest(id: &str) -> Option<&'static str> {
    let ids: Vec<&'static str> = ACTIONS.iter().map(|x| x.id).collect();
    crate::scenario::yaml::did_you_mean(id, &ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_well_formed() {
        for (i, x) in ACTIONS.iter().enumerate() {
            let parts: Vec<&str> = x.id.split(':').collect();
            assert!(parts.len() == 3 && parts[0] == "aws", "{}", x.id);
            assert!(ACTIONS[..i].iter().all(|y| y.id != x.id), "{} twice", x.id);
            assert!(i == 0 || ACTIONS[i - 1].id < x.id, "sorted by id: {}", x.id);
            if let Some((key, kind)) = x.target {
                assert!(key.chars().next().is_some_and(|c| c.is_ascii_uppercase()), "{}", x.id);
                assert!(kind.is_empty() || kind.starts_with("aws:"), "{}", x.id);
            }
        }
        assert_eq!(find("aws:ebs:pause-volume-io").map(|x| x.required), Some(&["duration"][..]));
        assert_eq!(nearest("aws:ec2:stop-instance"), Some("aws:ec2:stop-instances"));
        assert_eq!(nearest("aws:ebs:pause-volume"), Some("aws:ebs:pause-volume-io"));
        assert_eq!(nearest("something-else"), None);
    }
}
