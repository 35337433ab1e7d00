//! One IAM statement as fault and probe kinds declare it ([`Stmt`], built with [`stmt`]):
//! its purpose, actions, the resources it is scoped to ([`Res`]) and whether the opt-in
//! tag condition applies. A leaf: the kinds import it, and `iam_policy` merges their
//! statements into the policy.

use crate::scenario::{Target, TargetType};

/// A resource a statement is scoped to; `"*"` as a name means every one of its kind in
/// the scenario's accounts and region.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Res {
    /// `Resource: *`: the action has no resource-level permissions.
    Any,
    /// An EC2 resource: its type as in the ARN (`instance`, `volume`, `subnet`,
    /// `network-acl`, `vpc`) and id.
    Ec2(&'static str, String),
    Group(String),
    Cluster(String),
    Db(String),
    Role(String),
    User(String),
    Alarm(String),
    /// An SSM parameter, by name (`/firedrill/halt`).
    Parameter(String),
    /// An AWS FIS experiment template, by id.
    FisTemplate(String),
    /// An AWS FIS experiment, by id.
    FisExperiment(String),
    /// An AWS FIS action, by id (a template is created from them).
    FisAction(String),
}

impl Res {
    /// Whether every resource `other` matches is matched by `self` too.
    pub(super) fn covers(&self, other: &Res) -> bool {
        use Res::*;
        let name = |a: &String, b: &String| a == "*" || a == b;
        match (self, other) {
            (Any, _) => true,
            (Ec2(k, a), Ec2(l, b)) => k == l && name(a, b),
            (Group(a), Group(b))
            | (Cluster(a), Cluster(b))
            | (Db(a), Db(b))
            | (Role(a), Role(b))
            | (User(a), User(b))
            | (Alarm(a), Alarm(b))
            | (Parameter(a), Parameter(b))
            | (FisTemplate(a), FisTemplate(b))
            | (FisExperiment(a), FisExperiment(b))
            | (FisAction(a), FisAction(b)) => name(a, b),
            _ => false,
        }
    }

    /// The ARN patterns of this resource in `account`. An IAM role or user named by the
    /// scenario is matched with any path (its ARN has the path before the name).
    pub(super) fn arns(&self, partition: &str, region: &str, account: &str) -> Vec<String> {
        let (p, r, a) = (partition, region, account);
        let iam = |what: &str, name: &str| {
            if name == "*" {
                vec![format!("arn:{p}:iam::{a}:{what}/*")]
            } else {
                vec![format!("arn:{p}:iam::{a}:{what}/{name}"), format!("arn:{p}:iam::{a}:{what}/*/{name}")]
            }
        };
        match self {
            Res::Any => vec!["*".into()],
            Res::Ec2(kind, id) => vec![format!("arn:{p}:ec2:{r}:{a}:{kind}/{id}")],
            Res::Group(n) => vec![format!("arn:{p}:autoscaling:{r}:{a}:autoScalingGroup:*:autoScalingGroupName/{n}")],
            Res::Cluster(id) => vec![format!("arn:{p}:rds:{r}:{a}:cluster:{id}")],
            Res::Db(id) => vec![format!("arn:{p}:rds:{r}:{a}:db:{id}")],
            Res::Role(n) => iam("role", n),
            Res::User(n) => iam("user", n),
            Res::Alarm(n) => vec![format!("arn:{p}:cloudwatch:{r}:{a}:alarm:{n}")],
            Res::Parameter(n) => vec![format!("arn:{p}:ssm:{r}:{a}:parameter/{}", n.trim_start_matches('/'))],
            Res::FisTemplate(id) => vec![format!("arn:{p}:fis:{r}:{a}:experiment-template/{id}")],
            Res::FisExperiment(id) => vec![format!("arn:{p}:fis:{r}:{a}:experiment/{id}")],
            Res::FisAction(id) => vec![format!("arn:{p}:fis:{r}:{a}:action/{id}")],
        }
    }
}

/// One resource of `kind` named `id` (`*`: any).
pub fn res(kind: TargetType, id: &str) -> Res {
    use TargetType::*;
    let id = id.to_string();
    match kind {
        Ec2Instance => Res::Ec2("instance", id),
        Ec2Volume => Res::Ec2("volume", id),
        Ec2Subnet => Res::Ec2("subnet", id),
        AutoScalingGroup => Res::Group(id),
        RdsCluster => Res::Cluster(id),
        RdsInstance => Res::Db(id),
        IamRole => Res::Role(id),
        IamUser => Res::User(id),
    }
}

/// The resources a target can resolve to: the ones it names, or any of its type.
pub fn target_res(t: &Target) -> Vec<Res> {
    if t.ids.is_empty() { vec![res(t.kind, "*")] } else { t.ids.iter().map(|id| res(t.kind, id)).collect() }
}

/// One statement: its purpose (the `Sid`), its actions and resources, whether the opt-in
/// tag condition applies, and, for tags set by a create call, which call
/// (`ec2:CreateAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub(super) sid: &'static str,
    pub(super) actions: Vec<&'static str>,
    pub(super) resources: Vec<Res>,
    pub(super) tagged: bool,
    pub(super) on_create: Option<&'static str>,
}

pub fn stmt(sid: &'static str, actions: &[&'static str], resources: Vec<Res>, tagged: bool) -> Stmt {
    Stmt { sid, actions: actions.to_vec(), resources, tagged, on_create: None }
}

impl Stmt {
    /// The statement, allowed only as part of the create call `action` (tags set by
    /// `ec2:CreateNetworkAcl`'s `TagSpecifications` are authorized as `ec2:CreateTags`).
    pub fn on_create(self, action: &'static str) -> Stmt {
        Stmt { on_create: Some(action), ..self }
    }

    /// An `iam:PassRole` statement, allowed only to pass the role to `service`
    /// (`iam:PassedToService`, e.g. `fis.amazonaws.com`); kept in the create-call slot,
    /// which a statement of `iam:PassRole` alone never uses otherwise.
    pub fn passed_to(self, service: &'static str) -> Stmt {
        Stmt { on_create: Some(service), ..self }
    }
}

/// The resources of `targets` of type `kind`.
pub fn of_type(targets: &[&Target], kind: TargetType) -> Vec<Res> {
    targets.iter().filter(|t| t.kind == kind).flat_map(|t| target_res(t)).collect()
}

/// Reading RDS clusters and instances (their describe calls cover the account's).
pub fn read_databases() -> Stmt {
    stmt(
        "ReadDatabases",
        &["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
        vec![Res::Cluster("*".into()), Res::Db("*".into())],
        false,
    )
}
