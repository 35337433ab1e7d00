//! SSM Parameter Store: one String parameter read, written and deleted by name (the
//! emergency halt, `crate::halt`).

use aws_sdk_ssm::types::ParameterType;

use super::{Aws, AwsError, sdk_err};

impl Aws {
    /// The parameter's value; `None` when no parameter has this name.
    pub async fn get_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.ssm.get_parameter().name(name).send().await {
            Ok(out) => Ok(Some(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_string())),
            Err(e) => {
                let e = sdk_err("ssm:GetParameter", e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    /// Creates the String parameter, or overwrites its value.
    pub async fn put_parameter(&self, name: &str, value: &str, description: &str) -> Result<(), AwsError> {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .description(description)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| sdk_err("ssm:PutParameter", e))?;
        Ok(())
    }

    /// Deletes the parameter; `false` when there was none.
    pub async fn delete_parameter(&self, name: &str) -> Result<bool, AwsError> {
        match self.ssm.delete_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = sdk_err("ssm:DeleteParameter", e);
                if e.is_not_found() { Ok(false) } else { Err(e) }
            }
        }
    }
}
