//! `ebs_detach_volumes`: detaches each attached volume of the target, remembering its
//! instance and device; revert re-attaches it there and waits for `in-use`. A volume that
//! is already detached is left alone; one that someone attached elsewhere meanwhile is a
//! conflict, never moved back.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::ec2::failed;
use super::step::{ScheduledCall, Step, client, region_flag};
use super::{AwsFaultCtx, FaultContext};
use crate::aws::{Aws, Volume};
use crate::engine::{Fault, FaultError, Intents};
use crate::iam_policy::stmt::{Res, Stmt, of_type, stmt};
use crate::scenario::{Target, TargetType};
use crate::targets::{Resolution, Resource};
use crate::util::console::quote;

/// Undo kind: attach the volume to the instance as the device.
pub const ATTACH: &str = "ebs_attach_volume";
const WAIT: Duration = Duration::from_secs(300);

/// `ebs_detach_volumes`.
pub struct Detach;

/// `ebs_detach_volumes`: detach the target's attached volumes; revert re-attaches each to
/// the same instance and device.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EbsDetachFault {
    /// An `ec2:volume` target.
    pub target: String,
    /// Force the detachment (data may be lost, as with `aws ec2 detach-volume --force`).
    #[serde(default)]
    pub force: bool,
}

impl super::Kind for Detach {
    const KEY: &'static str = "ebs_detach_volumes";
    type Config = EbsDetachFault;
    const TARGET_TYPES: &'static [TargetType] = &[TargetType::Ec2Volume];

    fn targets(x: &EbsDetachFault) -> Vec<(String, &str)> {
        vec![("target".into(), &x.target)]
    }

    // The instance a volume goes back to may not carry the opt-in tag: no condition, and
    // any instance of the account and region.
    fn iam(_: &EbsDetachFault, targets: &[&Target]) -> Vec<Stmt> {
        let mut r = of_type(targets, TargetType::Ec2Volume);
        r.push(Res::Ec2("instance", "*".into()));
        vec![stmt("DetachAttachVolumes", &["ec2:DetachVolume", "ec2:AttachVolume"], r, false)]
    }

    fn describe(x: &EbsDetachFault, ids: &dyn Fn(&str) -> String, _: Option<&Resolution>) -> Vec<String> {
        vec![
            format!("inject: detach{} attached volumes {}", if x.force { " (force)" } else { "" }, ids(&x.target)),
            "revert: attach each to its instance and device again, wait until in-use".into(),
        ]
    }

    fn no_effect(_: &str, x: &EbsDetachFault, res: &Resolution) -> Option<String> {
        none_attached(res.resources(&x.target), &x.target)
    }

    fn build(_: &str, x: &EbsDetachFault, ctx: &FaultContext) -> Option<Arc<dyn Fault>> {
        let (ctx, res) = ctx.aws()?;
        Some(Arc::new(Injector { ctx, ids: res.ids(&x.target), force: x.force }))
    }
}

/// The instance and device a resolved volume is attached to (its `attached_to`, as target
/// resolution read it: `i-… as /dev/sdf`); `None` when it is not attached.
pub fn attachment(r: &Resource) -> Option<(&str, &str)> {
    r.attrs.get("attached_to")?.split_once(" as ")
}

/// Why detaching would change nothing: no selected volume is attached (`in-use`).
pub fn none_attached(rs: &[Resource], target: &str) -> Option<String> {
    if rs.iter().any(|r| r.state.as_deref() == Some("in-use")) {
        return None;
    }
    if rs.is_empty() {
        return Some(format!("target `{target}` selected no volume: nothing to detach"));
    }
    let states: Vec<String> =
        rs.iter().map(|r| format!("{} is {}", r.id, r.state.as_deref().unwrap_or("in an unknown state"))).collect();
    Some(format!("no volume of target `{target}` is attached ({}): nothing to detach", super::ec2::list(&states)))
}

pub struct Injector {
    pub ctx: AwsFaultCtx,
    pub ids: Vec<String>,
    pub force: bool,
}

#[async_trait]
impl Fault for Injector {
    async fn inject(&self, intents: &dyn Intents) -> Result<(), FaultError> {
        let aws = &self.ctx.aws;
        let sel = crate::aws::Selector { ids: self.ids.clone(), ..Default::default() };
        let volumes = self.ctx.still_there(aws.volumes(&sel).await, &self.ids, |v: &Volume| &v.id)?;
        for v in volumes {
            let Some(a) = v.attachments.iter().find(|a| a.state == "attached") else { continue };
            intents
                .intent(
                    AttachData { volume: v.id.clone(), instance: a.instance.clone(), device: a.device.clone() }
                        .record(Some(aws.region()), format!("attach {} to {} as {}", v.id, a.instance, a.device)),
                )
                .await?;
            // How to reattach it, on the volume itself, before it is detached.
            let tag = (
                crate::tags::UNDO_ATTACH.to_string(),
                crate::tags::fields(&self.ctx.run_id, &[&a.instance, &a.device]),
            );
            aws.tag_all("", TargetType::Ec2Volume, std::slice::from_ref(&v.id), &[tag]).await.map_err(failed)?;
            aws.detach_volume(&v.id, &a.instance, self.force).await.map_err(failed)?;
        }
        Ok(())
    }
}

/// Undo step: attach the volume to the same instance and device again.
#[derive(Serialize, Deserialize)]
pub struct AttachData {
    pub volume: String,
    pub instance: String,
    pub device: String,
}

#[async_trait]
impl Step for AttachData {
    const KEY: &'static str = ATTACH;

    async fn undo(&self, aws: Option<&Aws>) -> Result<(), FaultError> {
        undo_attach(client(aws)?, self).await
    }

    fn manual_fix(&self, region: &str) -> Option<String> {
        Some(format!(
            "aws ec2 attach-volume {} --volume-id {} --instance-id {} --device {}",
            region_flag(region),
            quote(&self.volume),
            quote(&self.instance),
            quote(&self.device)
        ))
    }

    fn touched(&self) -> BTreeMap<TargetType, Vec<String>> {
        BTreeMap::from([(TargetType::Ec2Volume, vec![self.volume.clone()])])
    }

    fn scheduled(&self) -> Vec<ScheduledCall> {
        let input = serde_json::json!({"VolumeId": self.volume, "InstanceId": self.instance, "Device": self.device});
        vec![ScheduledCall::new("ec2", "attachVolume", input)]
    }
}

/// What the undo of a detachment does, given the volume as it is now.
#[derive(Debug, PartialEq, Eq)]
enum Reattach {
    /// Attached (or attaching) to its instance and device again: wait until in use.
    AlreadyBack,
    /// Still detaching from them: wait until available, then attach.
    AfterDetaching,
    /// Detached: attach.
    Now,
}

impl AttachData {
    /// The undo's choice; a volume that is gone or attached elsewhere is left alone.
    fn choice(&self, now: Option<&Volume>) -> Result<Reattach, FaultError> {
        let Some(v) = now else {
            return Err(FaultError::Conflict(format!("volume {} no longer exists", self.volume)));
        };
        let ours = v.attachments.iter().any(|a| a.instance == self.instance && a.device == self.device);
        match v.attachments.iter().find(|a| a.state != "detached") {
            None => Ok(Reattach::Now),
            Some(a) if !ours => Err(FaultError::Conflict(format!(
                "volume {} is now attached to {} as {}, not {} as {}: left alone",
                self.volume, a.instance, a.device, self.instance, self.device
            ))),
            Some(a) if a.state == "detaching" => Ok(Reattach::AfterDetaching),
            Some(_) => Ok(Reattach::AlreadyBack),
        }
    }
}

async fn undo_attach(aws: &Aws, d: &AttachData) -> Result<(), FaultError> {
    match d.choice(aws.volume(&d.volume).await.map_err(failed)?.as_ref())? {
        Reattach::AlreadyBack => {}
        Reattach::AfterDetaching => {
            wait(aws, &d.volume, "available").await?;
            aws.attach_volume(&d.volume, &d.instance, &d.device).await.map_err(failed)?;
        }
        Reattach::Now => aws.attach_volume(&d.volume, &d.instance, &d.device).await.map_err(failed)?,
    }
    wait(aws, &d.volume, "in-use").await?;
    aws.forget(TargetType::Ec2Volume, std::slice::from_ref(&d.volume), &[crate::tags::UNDO_ATTACH.into()]).await;
    Ok(())
}

async fn wait(aws: &Aws, volume: &str, state: &str) -> Result<(), FaultError> {
    aws.wait_for(&format!("volume {volume} to be {state}"), WAIT, || async {
        Ok(aws.volume(volume).await?.filter(|v| v.state == state).map(|_| ()))
    })
    .await
    .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Attachment;

    fn volume(attachments: &[(&str, &str, &str)]) -> Volume {
        Volume {
            id: "vol-1".into(),
            state: "in-use".into(),
            zone: "us-east-1a".into(),
            attachments: attachments
                .iter()
                .map(|(i, d, s)| Attachment { instance: i.to_string(), device: d.to_string(), state: s.to_string() })
                .collect(),
            tags: Default::default(),
        }
    }

    #[test]
    fn reattaches_only_to_its_own_instance_and_device() {
        let d = AttachData { volume: "vol-1".into(), instance: "i-1".into(), device: "/dev/sdf".into() };
        assert_eq!(d.choice(Some(&volume(&[]))).unwrap(), Reattach::Now);
        assert_eq!(d.choice(Some(&volume(&[("i-1", "/dev/sdf", "detached")]))).unwrap(), Reattach::Now);
        assert_eq!(d.choice(Some(&volume(&[("i-1", "/dev/sdf", "detaching")]))).unwrap(), Reattach::AfterDetaching);
        assert_eq!(d.choice(Some(&volume(&[("i-1", "/dev/sdf", "attached")]))).unwrap(), Reattach::AlreadyBack);
        let elsewhere = d.choice(Some(&volume(&[("i-2", "/dev/sdg", "attached")]))).unwrap_err();
        assert!(matches!(elsewhere, FaultError::Conflict(ref m) if m.contains("now attached to i-2")), "{elsewhere}");
        assert!(matches!(d.choice(None), Err(FaultError::Conflict(_))));
    }

    use crate::faults::Kind;
    use crate::faults::fixtures::{one_target, resource};

    /// Detaching changes nothing when no selected volume is attached (`in-use`).
    #[test]
    fn detach_has_no_effect_when_no_selected_volume_is_attached() {
        let x = EbsDetachFault { target: "t".into(), force: false };
        let idle = one_target(TargetType::Ec2Volume, vec![resource("vol-1", Some("available"), &[])]);
        assert_eq!(
            Detach::no_effect("f", &x, &idle).as_deref(),
            Some("no volume of target `t` is attached (vol-1 is available): nothing to detach")
        );
        let attached = one_target(
            TargetType::Ec2Volume,
            vec![
                resource("vol-1", Some("available"), &[]),
                resource("vol-2", Some("in-use"), &[("attached_to", "i-1 as /dev/sdf")]),
            ],
        );
        assert_eq!(Detach::no_effect("f", &x, &attached), None);
    }
}
