//! The machinery behind the registration list in `faults/mod.rs`: the macro that turns the
//! list of [`super::Kind`]s into [`super::FaultConfig`] (a fault as the scenario file
//! writes it: `name`, `duration`, optional `after` and exactly one kind key, loaded,
//! written and described in the schema by `scenario::keyed`) and [`super::FaultKind`]
//! with one-line dispatch arms.

use schemars::JsonSchema;
use serde::Deserialize;

/// `after:` holds one fault name or a list of them.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged, expecting = "a fault name or a list of fault names")]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Vec<String> {
    fn from(v: OneOrMany) -> Vec<String> {
        match v {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Generates [`super::FaultConfig`] and [`super::FaultKind`] from the registration list
/// `Variant(path::KindType), ...`.
macro_rules! define_fault_kinds {
    ($($variant:ident($kind:ty)),* $(,)?) => {
        $crate::scenario::keyed::keyed_config! {
            /// A fault: `name`, `duration`, optional `after`, and exactly one kind key.
            pub struct FaultConfig ("fault", "Fault", "A fault: `name`, `duration`, optional `after`, and exactly one kind key.", named name) {
                pub name: String = "name", "The fault's name, used by `after` and in reports: letters, digits, `-`, `_`, `.` (at most 64).";
                pub duration: $crate::scenario::Dur = "duration", "How long the fault stays in place before it is reverted.";
                pub after: Vec<String> = "after", "Faults this one starts after: it is injected once each of them has run its\nduration and been reverted (like FIS `startAfter`).", default Vec::<String>::new(), via registry::OneOrMany;
                pub if_no_effect: IfNoEffect = "if_no_effect", "What to do when the fault would change nothing (no running instance to stop, no\nattached volume, no active access key, no writer in the zone): `refuse` the run (the\ndefault; exit 7, nothing touched) or `skip` the fault (shown as skipped, never\ncounted as a pass) and run the others.", default IfNoEffect::Refuse;
            }
            /// A fault's kind and its config (exactly one per fault).
            pub enum FaultKind: Kind { $($variant($kind)),* }
        }

        impl FaultKind {
            /// Whether the kind acts on AWS (the scenario then needs an `environment`, and
            /// its undo records are stamped with the run's guards).
            pub fn needs_aws(&self) -> bool {
                match self {
                    $(Self::$variant(_) => <$kind as Kind>::AWS),*
                }
            }

            /// The target types the kind acts on.
            pub fn target_types(&self) -> &'static [$crate::scenario::TargetType] {
                match self {
                    $(Self::$variant(_) => <$kind as Kind>::TARGET_TYPES),*
                }
            }

            /// The targets the fault names, each with its field (`target`, `targets[1]`).
            pub fn targets(&self) -> Vec<(String, &str)> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::targets(c)),*
                }
            }

            /// The regions the fault names, each with its field (`region`, `regions[1]`).
            pub fn regions(&self) -> Vec<(String, &str)> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::regions(c)),*
                }
            }

            /// Problems with the kind's config; `at` is the kind's path (`faults[0].az_outage`).
            pub fn validate(&self, at: &str, scope: &$crate::scenario::validate::Scope<'_>) -> Vec<$crate::scenario::validate::Problem> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::validate(c, at, scope)),*
                }
            }

            /// The IAM statements the fault needs, given its targets as declared.
            pub fn iam(&self, targets: &[&$crate::scenario::Target]) -> Vec<$crate::iam_policy::stmt::Stmt> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::iam(c, targets)),*
                }
            }

            /// Plan lines; `ids(target)` names a target's selected resources.
            pub fn describe(&self, ids: &dyn Fn(&str) -> String, res: Option<&Resolution>) -> Vec<String> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::describe(c, ids, res)),*
                }
            }

            /// Why the fault would change nothing, from the resolved targets.
            pub fn no_effect(&self, fault: &str, res: &Resolution) -> Option<String> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::no_effect(fault, c, res)),*
                }
            }

            /// Refusals only the resolved targets can show.
            pub fn preflight(&self, fault: &str, res: &Resolution) -> Vec<String> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::preflight(fault, c, res)),*
                }
            }

            /// What the fault acts on, and so leases.
            pub fn resources(&self, res: &Resolution) -> Vec<($crate::scenario::TargetType, String)> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::resources(c, res)),*
                }
            }

            /// The engine's fault; `None` when it needs AWS and no connection was made.
            pub fn build(&self, fault: &str, ctx: &FaultContext) -> Option<std::sync::Arc<dyn $crate::engine::Fault>> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::build(fault, c, ctx)),*
                }
            }
        }
    };
}

pub(super) use define_fault_kinds;
