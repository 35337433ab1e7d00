//! A real moto server per test, on a free 127.0.0.1 port, started from the project's
//! venv (`.venv`, or `FIREDRILL_MOTO_VENV`; `scripts/setup-venv` makes it with the pins of
//! `requirements-test.txt`: moto's server and the IAM linter parliament that `iam_lint` runs). Each test
//! gets its own server, so tests run in parallel without sharing AWS state.
//!
//! [`Moto::seed`] runs `demo/seed.py` (the staging twin the demo uses) and returns what it
//! made; [`Moto::snapshot`] runs `tests/it/support/moto_state.py` and returns every
//! attribute a fault may touch (instance states, volume attachments, NACL associations and
//! firedrill's NACLs, ASG subnets, cluster writers, role policies, access key statuses),
//! so a test can assert "exactly as before". [`shop_head`], [`shop_scenario`] and
//! [`stop_web_scenario`] write the scenarios several test modules run against the seeded
//! shop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{Sandbox, wait_until};

/// The start of a scenario named `name` against the seeded shop, up to `targets:`: its
/// region, account and opt-in tag.
pub fn shop_head(name: &str) -> String {
    format!(
        r#"version: 1
name: {name}
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: {{ key: firedrill, value: allowed }}
targets:
"#
    )
}

/// The head of a scenario named `name` against the seeded shop: its region, account and
/// opt-in tag, and `targets:` with the shop's subnets, instances and Auto Scaling group
/// as `subnets`, `web` and `asg`. More targets may follow.
pub fn shop_scenario(name: &str) -> String {
    shop_head(name)
        + r#"  subnets:
    type: ec2:subnet
    tags: { app: shop }
  web:
    type: ec2:instance
    tags: { app: shop }
  asg:
    type: autoscaling:group
    tags: { app: shop }
"#
}

/// A scenario named `name` against the seeded shop that stops its instance in us-east-1a
/// for `duration`, with a steady state that always holds.
pub fn stop_web_scenario(name: &str, duration: &str) -> String {
    shop_head(name)
        + &format!(
            r#"  web: {{ type: ec2:instance, tags: {{ app: shop }}, filters: {{ availability_zone: us-east-1a }} }}
steady_state:
  - name: ok
    command: {{ run: "true" }}
    every: 100ms
faults:
  - name: stop
    ec2_stop_instances: {{ target: web }}
    duration: {duration}
recovery:
  objective: sustain
  stable_for: 100ms
  settle_timeout: 20s
"#
        )
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test venv (`.venv`, or `FIREDRILL_MOTO_VENV`).
pub fn venv() -> PathBuf {
    std::env::var_os("FIREDRILL_MOTO_VENV").map(PathBuf::from).unwrap_or_else(|| root().join(".venv"))
}

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    /// Starts moto with extra environment (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        Self::start_program(Command::new(venv().join("bin/moto_server")), env)
    }

    /// Starts moto through a Python wrapper of `moto_server` in this repository (e.g.
    /// `tests/it/support/moto_aged_keys.py`, which patches moto before serving).
    pub fn start_script(script: &str) -> Moto {
        let mut c = Command::new(venv().join("bin/python"));
        c.arg(root().join(script));
        Self::start_program(c, &[])
    }

    fn start_program(mut command: Command, env: &[(&str, &str)]) -> Moto {
        let server = venv().join("bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run `scripts/test` (or `scripts/setup-venv`), which installs requirements-test.txt into it",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto { child, port };
        wait_until("moto to answer", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a `firedrill` needs to talk to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("FIREDRILL_AWS_POLL", "50ms".into()),
        ]
    }

    /// A sandbox whose `firedrill` commands talk to this server.
    pub fn sandbox(&self) -> Sandbox {
        let mut sb = Sandbox::new();
        for (k, v) in self.env() {
            sb.env(k, &v);
        }
        sb
    }

    fn python(&self, script: &str, args: &[&str]) -> Value {
        let out = Command::new(venv().join("bin/python"))
            .arg(root().join(script))
            .args(["--endpoint", &self.endpoint()])
            .args(args)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{script} {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON: {e}"))
    }

    /// Wipes all state (`POST /moto-api/reset`).
    pub fn reset(&self) {
        self.post("/moto-api/reset", "");
    }

    /// Turns IAM enforcement on (every later request needs a signature by a known key and
    /// a policy that allows its action) or off (`POST /moto-api/reset-auth`).
    pub fn enforce_iam(&self, on: bool) {
        self.post("/moto-api/reset-auth", if on { "0" } else { "inf" });
    }

    fn post(&self, path: &str, body: &str) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        use std::io::{Read, Write};
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).expect("write to moto");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "{path}: {answer}");
    }

    /// Seeds the staging twin (`demo/seed.py ARGS`) and returns what it made.
    pub fn seed(&self, args: &[&str]) -> Value {
        self.python("demo/seed.py", args)
    }

    /// Runs a seeding script of this repository (`--endpoint` given) and returns its JSON.
    pub fn seed_with(&self, script: &str) -> Value {
        self.python(script, &[])
    }

    /// Every attribute a fault may touch, as JSON.
    pub fn snapshot(&self) -> Value {
        self.python("tests/it/support/moto_state.py", &[])
    }

    /// Runs a small boto3 program against this server: `code` sees `ec2`, `asg`, `rds`,
    /// `iam`, `cw` clients (for a test to play "someone else" changing a resource).
    pub fn boto(&self, code: &str) {
        let prelude = format!(
            "import boto3\nkw=dict(region_name='us-east-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
             ec2=boto3.client('ec2',**kw); asg=boto3.client('autoscaling',**kw); rds=boto3.client('rds',**kw)\n\
             iam=boto3.client('iam',**kw); cw=boto3.client('cloudwatch',**kw)\n",
            self.endpoint()
        );
        let out =
            Command::new(venv().join("bin/python")).args(["-c", &format!("{prelude}{code}")]).output().expect("python");
        assert!(out.status.success(), "boto3 snippet failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Moto {
    /// Runs a Python program (with `ENDPOINT` defined) in the venv and returns the JSON it
    /// prints.
    pub fn python_json(&self, code: &str) -> Value {
        let code = format!("ENDPOINT = '{}'\n{code}", self.endpoint());
        let out = Command::new(venv().join("bin/python")).args(["-c", &code]).output().expect("python");
        assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("python printed JSON")
    }

    /// The venv's python, for command probes.
    pub fn python_path() -> PathBuf {
        venv().join("bin/python")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
