//! Running shell commands (`sh -c`) for command probes and command faults: bounded in
//! time and in captured output, in their own process group so that a timed-out command is
//! killed together with everything it started. On Linux the shell also dies with firedrill
//! (a parent-death signal), and what it started in its group can be found again and
//! killed by `firedrill recover` ([`kill_run_group`]).

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// Bytes kept of each of stdout and stderr unless told otherwise.
pub const DEFAULT_CAPTURE_LIMIT: usize = 4096;

/// After the shell exits, how long to keep reading pipes that something it left running
/// in the background still holds open.
const PIPE_GRACE: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct ShellOpts {
    /// The command and everything it started are killed after this long.
    pub timeout: Duration,
    /// Working directory; default: this process's.
    pub cwd: Option<PathBuf>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// Bytes kept of each stream; the tail is kept.
    pub capture_limit: usize,
}

impl Default for ShellOpts {
    fn default() -> Self {
        ShellOpts { timeout: Duration::from_secs(30), cwd: None, env: Vec::new(), capture_limit: DEFAULT_CAPTURE_LIMIT }
    }
}

/// How a command ended and the tail of what it printed. A truncated stream starts with a
/// `[N bytes truncated]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellOutput {
    /// The exit status; `None` if the command was killed by a signal.
    pub status: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ShellOutput {
    /// The last non-empty line of stderr, or of stdout when stderr has none.
    pub fn last_line(&self) -> Option<&str> {
        fn last(s: &str) -> Option<&str> {
            s.lines().map(str::trim).rfind(|l| !l.is_empty())
        }
        last(&self.stderr).or_else(|| last(&self.stdout))
    }

    /// One line: `exit 1: <last line of stderr>`, `killed by signal 9`.
    pub fn summary(&self) -> String {
        let how = match (self.status, self.signal) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "ended without a status".to_string(),
        };
        match self.last_line() {
            Some(line) => format!("{how}: {line}"),
            None => how,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("could not run `sh`: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Runs `sh -c cmd` with stdin from /dev/null. On timeout the command's whole process
/// group is killed and the shell reaped before this returns.
pub async fn run_shell(cmd: &str, opts: &ShellOpts) -> Result<ShellOutput, ShellError> {
    spawn_shell(cmd, opts)?.finish().await
}

/// A shell started by [`spawn_shell`]; its process group is killed if this is dropped
/// before [`Spawned::finish`] returns.
pub struct Spawned {
    child: Child,
    group: GroupGuard,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    deadline: tokio::time::Instant,
    timeout: Duration,
    capture_limit: usize,
}

/// Starts `sh -c cmd` like [`run_shell`], returning once it runs, so that the caller can
/// record its process group before waiting for it.
pub fn spawn_shell(cmd: &str, opts: &ShellOpts) -> Result<Spawned, ShellError> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .envs(opts.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &opts.cwd {
        command.current_dir(dir);
    }
    die_with_parent(&mut command);
    let mut child = command.spawn()?;
    // Kills the group if this future is dropped mid-run (a caller's own timeout).
    let group = GroupGuard(child.id());
    Ok(Spawned {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        child,
        group,
        deadline: tokio::time::Instant::now() + opts.timeout,
        timeout: opts.timeout,
        capture_limit: opts.capture_limit,
    })
}

/// On Linux: the shell gets SIGKILL when firedrill dies, so an inject cannot go on (and
/// finish after `recover` reverted it) once nothing is left to revert it.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // firedrill died before the signal was armed.
            if libc::getppid() != parent {
                libc::_exit(137);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

impl Spawned {
    /// The shell's process group id (its pid).
    pub fn pgid(&self) -> Option<u32> {
        self.group.0
    }

    /// Waits for the command (until the timeout counted from its start) and collects its
    /// output. On timeout the whole group is killed and the shell reaped.
    pub async fn finish(self) -> Result<ShellOutput, ShellError> {
        let Spawned { mut child, mut group, stdout, stderr, deadline, timeout, capture_limit } = self;
        let mut out = Tail::new(capture_limit);
        let mut err = Tail::new(capture_limit);
        let run = async {
            let mut reading = std::pin::pin!(async { tokio::join!(out.read_all(stdout), err.read_all(stderr)) });
            let mut read_done = false;
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status?,
                    _ = &mut reading, if !read_done => read_done = true,
                }
            };
            if !read_done {
                // Something the command started in the background holds the pipes open;
                // take what is there rather than wait for it.
                let _ = tokio::time::timeout(PIPE_GRACE, reading).await;
            }
            Ok::<_, std::io::Error>(status)
        };
        let finished = tokio::time::timeout_at(deadline, run).await;
        match finished {
            Ok(status) => {
                let status = status?;
                group.disarm();
                Ok(ShellOutput {
                    status: status.code(),
                    signal: status.signal(),
                    stdout: out.into_string(),
                    stderr: err.into_string(),
                })
            }
            Err(_) => {
                drop(group);
                // The group kill got the shell too; this makes sure and reaps it.
                let _ = child.kill().await;
                Err(ShellError::Timeout(timeout))
            }
        }
    }
}

/// SIGKILLs process group `pgid`, directly (no `kill` program needed).
pub fn kill_group(pgid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid)
        && pgid > 1
    {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// What `recover` found of a dead run's command in process group `pgid`.
#[derive(Debug, PartialEq, Eq)]
pub enum Survivors {
    /// Nothing of the run is left in the group.
    None,
    /// Processes of the run were left; they were killed.
    Killed(usize),
    /// Processes cannot be listed here (no `/proc`): nothing was done.
    Unknown,
}

/// Kills what is left of a dead run's command in process group `pgid`: only if a process
/// of the group carries `FIREDRILL_RUN_ID=<run_id>` in its environment, so that a group id
/// the system has since given to something else is never touched. Waits (a few seconds at
/// most) until the group is gone.
pub async fn kill_run_group(pgid: u32, run_id: &str) -> Survivors {
    let Some(members) = group_members(pgid) else { return Survivors::Unknown };
    let marker = format!("FIREDRILL_RUN_ID={run_id}");
    let ours = members
        .iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .count();
    if ours == 0 {
        return Survivors::None;
    }
    kill_group(pgid);
    for _ in 0..250 {
        if group_members(pgid).is_none_or(|m| m.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Survivors::Killed(ours)
}

/// The live (not zombie) processes of group `pgid`, from `/proc`; `None` without `/proc`.
fn group_members(pgid: u32) -> Option<Vec<u32>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // After the command name in parentheses: state, ppid, pgrp.
        let mut rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default().split_whitespace();
        let state = rest.next();
        let pgrp = rest.nth(1).and_then(|g| g.parse::<u32>().ok());
        if pgrp == Some(pgid) && state != Some("Z") {
            out.push(pid);
        }
    }
    Some(out)
}

/// SIGKILLs a process group when dropped, unless disarmed.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            kill_group(pgid);
        }
    }
}

/// The last `limit` bytes of a stream, and how many came before them.
struct Tail {
    limit: usize,
    buf: Vec<u8>,
    dropped: usize,
}

impl Tail {
    fn new(limit: usize) -> Self {
        Tail { limit, buf: Vec::new(), dropped: 0 }
    }

    async fn read_all(&mut self, stream: Option<impl AsyncRead + Unpin>) {
        let Some(mut stream) = stream else { return };
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            self.buf.extend_from_slice(&chunk[..n]);
            if self.buf.len() > self.limit {
                let excess = self.buf.len() - self.limit;
                self.buf.drain(..excess);
                self.dropped += excess;
            }
        }
    }

    fn into_string(self) -> String {
        if self.dropped == 0 {
            return String::from_utf8_lossy(&self.buf).into_owned();
        }
        // Don't start in the middle of a UTF-8 character.
        let start = self.buf.iter().take(3).take_while(|b| (0x80..0xc0).contains(*b)).count();
        let dropped = self.dropped + start;
        format!("[{dropped} bytes truncated]\n{}", String::from_utf8_lossy(&self.buf[start..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(timeout_ms: u64) -> ShellOpts {
        ShellOpts { timeout: Duration::from_millis(timeout_ms), ..ShellOpts::default() }
    }

    /// Whether `pid` is gone (or a zombie nobody has reaped yet).
    fn gone(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
        }
    }

    #[tokio::test]
    async fn captures_status_and_output() {
        let out = run_shell("echo out; echo err >&2; exit 3", &opts(5000)).await.unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.signal, None);
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.summary(), "exit 3: err");
    }

    #[tokio::test]
    async fn summary_without_output() {
        let out = run_shell("true", &opts(5000)).await.unwrap();
        assert_eq!(out.status, Some(0));
        assert_eq!(out.summary(), "exit 0");
    }

    #[tokio::test]
    async fn killed_by_signal() {
        let out = run_shell("kill -TERM $$", &opts(5000)).await.unwrap();
        assert_eq!(out.status, None);
        assert_eq!(out.signal, Some(15));
        assert_eq!(out.summary(), "killed by signal 15");
    }

    #[tokio::test]
    async fn env_cwd_and_null_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let o = ShellOpts {
            cwd: Some(dir.path().to_path_buf()),
            env: vec![("FIREDRILL_TEST".into(), "hello".into())],
            ..opts(5000)
        };
        let out = run_shell("echo $FIREDRILL_TEST; pwd; cat", &o).await.unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(out.stdout, format!("hello\n{}\n", cwd.display()));
    }

    #[tokio::test]
    async fn keeps_the_tail_of_long_output() {
        let o = ShellOpts { capture_limit: 100, ..opts(5000) };
        let out = run_shell("head -c 10000 /dev/zero | tr '\\0' a; echo; echo END", &o).await.unwrap();
        assert!(out.stdout.starts_with("[9905 bytes truncated]\n"), "{}", out.stdout);
        assert!(out.stdout.ends_with("a\nEND\n"));
        assert_eq!(out.stdout.lines().nth(1).unwrap().len(), 95);
        assert_eq!(out.last_line(), Some("END"));
    }

    #[tokio::test]
    async fn truncation_does_not_split_characters() {
        let o = ShellOpts { capture_limit: 5, ..opts(5000) };
        // "é" is two bytes: the 5-byte tail of "ééé" starts mid-character.
        let out = run_shell("printf 'ééé'", &o).await.unwrap();
        assert_eq!(out.stdout, "[2 bytes truncated]\néé");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let cmd = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let started = std::time::Instant::now();
        let err = run_shell(&cmd, &opts(300)).await.unwrap_err();
        assert!(matches!(err, ShellError::Timeout(d) if d == Duration::from_millis(300)));
        assert_eq!(err.to_string(), "timed out after 300ms");
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        for _ in 0..50 {
            if gone(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("background child {pid} survived the timeout");
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let cmd = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let cancelled = tokio::time::timeout(Duration::from_millis(300), run_shell(&cmd, &opts(30_000))).await;
        assert!(cancelled.is_err());
        let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        for _ in 0..50 {
            if gone(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("background child {pid} survived the cancelled run");
    }

    #[tokio::test]
    async fn background_children_do_not_hold_up_a_finished_command() {
        let started = std::time::Instant::now();
        let out = run_shell("sleep 30 & echo $!", &opts(10_000)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(out.status, Some(0));
        let pid = out.stdout.trim();
        let _ = std::process::Command::new("kill").arg(pid).status();
    }

    /// `recover` kills a dead run's leftover command group, and only if it is that run's.
    #[tokio::test]
    async fn kill_run_group_kills_only_the_runs_own_group() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .env("FIREDRILL_RUN_ID", "run-1")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id();
        assert_eq!(kill_run_group(pgid, "run-2").await, Survivors::None);
        assert!(child.try_wait().unwrap().is_none(), "another run's group was killed");
        assert!(matches!(kill_run_group(pgid, "run-1").await, Survivors::Killed(n) if n >= 1));
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9));
        assert_eq!(group_members(pgid), Some(vec![]));
        assert_eq!(kill_run_group(pgid, "run-1").await, Survivors::None);
    }

    #[tokio::test]
    async fn spawn_failure() {
        let o = ShellOpts { cwd: Some(PathBuf::from("/nonexistent/firedrill")), ..opts(5000) };
        let err = run_shell("true", &o).await.unwrap_err();
        assert!(matches!(err, ShellError::Spawn(_)), "{err:?}");
    }
}
