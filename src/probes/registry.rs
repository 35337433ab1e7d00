//! The machinery behind the registration list in `probes/mod.rs`: the macro that turns
//! the list of [`super::Kind`]s into [`super::ProbeConfig`] (a probe as the scenario file
//! writes it: `name`, `every` and exactly one kind key, loaded, written and described in
//! the schema by `scenario::keyed`) and [`super::ProbeKind`] with one-line dispatch arms.

/// Generates [`super::ProbeConfig`] and [`super::ProbeKind`] from the registration list
/// `Variant(path::KindType), ...`.
macro_rules! define_probe_kinds {
    ($($variant:ident($kind:ty)),* $(,)?) => {
        $crate::scenario::keyed::keyed_config! {
            /// A steady-state probe: `name`, `every`, and exactly one kind key.
            pub struct ProbeConfig ("probe", "Probe", "A steady-state probe: `name`, `every`, and exactly one kind key.", named name) {
                pub name: String = "name", "The probe's name, used by abort rules and in reports: letters, digits, `-`, `_`, `.` (at most 64).";
                pub every: $crate::scenario::Dur = "every", "Sampling interval; at least 100ms.";
            }
            /// A probe's kind and its config (exactly one per probe).
            pub enum ProbeKind: Kind { $($variant($kind)),* }
        }

        impl ProbeKind {

            /// Whether the probe calls AWS.
            pub fn needs_aws(&self) -> bool {
                match self {
                    $(Self::$variant(_) => <$kind as Kind>::AWS),*
                }
            }

            /// Problems with the kind's config; `at` is the probe's path (`steady_state[0]`).
            pub fn validate(&self, at: &str) -> Vec<$crate::scenario::validate::Problem> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::validate(c, &format!("{at}.{}", <$kind as Kind>::KEY))),*
                }
            }

            /// One line for `firedrill plan`, without the interval.
            pub fn describe(&self) -> String {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::describe(c)),*
                }
            }

            /// What the probe watches, as the report names it.
            pub fn target(&self) -> String {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::target(c)),*
                }
            }

            /// The IAM statements the probe needs.
            pub fn iam(&self) -> Vec<$crate::iam_policy::stmt::Stmt> {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::iam(c)),*
                }
            }

            /// The check and its own timeout.
            pub fn build(
                &self,
                aws: Option<&$crate::aws::Aws>,
            ) -> (std::time::Duration, std::sync::Arc<dyn $crate::engine::Probe>) {
                match self {
                    $(Self::$variant(c) => <$kind as Kind>::build(c, aws)),*
                }
            }
        }

    };
}

pub(super) use define_probe_kinds;
