//! Scenario files: the typed model, the YAML loader that keeps positions, and the pure
//! validator. Everything a user can get wrong in a scenario is reported from here as
//! `FILE:LINE:COL: field.path: message`.

pub mod arn;
pub mod aws;
pub mod duration;
pub mod file;
pub mod keyed;
pub mod load;
pub mod model;
pub mod notify;
pub mod regions;
pub mod repeats;
pub mod safety;
pub mod validate;
pub mod yaml;

pub use aws::*;
pub use duration::Dur;
pub use load::{Diagnostic, Invalid, Loaded, load, load_str};
pub use model::*;

/// The JSON Schema of scenario files, generated from the model types.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_value(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests;
