//! Drives the real `fieldbook` binary against encrypted stores in a temporary directory.
//!
//! Every call is one process start on one store, as a script on the force's side would run it.
//! The key is given per command through `FIELDBOOK_KEY`; nothing is read from the parent's
//! environment, so a developer's own `FIELDBOOK_*` settings cannot change what is tested.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// What one command did: its exit code and what it printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Both streams, for assertion messages.
    pub fn transcript(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `fieldbook` with `args` in `dir`, with `key` (if any) as `FIELDBOOK_KEY`.
pub fn fieldbook(dir: &Path, key: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldbook"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("FIELDBOOK_KEY")
        .env_remove("FIELDBOOK_STORE")
        .env_remove("FIELDBOOK_LOG")
        .env_remove("RUST_BACKTRACE");
    if let Some(key) = key {
        cmd.env("FIELDBOOK_KEY", key);
    }
    let out = cmd.output().expect("the fieldbook binary starts");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A raw 256-bit key as 64 hex characters, different for each `seed`.
pub fn raw_key(seed: u8) -> String {
    format!("{seed:02x}").repeat(32)
}

/// One headless device: a store file in its own temporary directory, opened with its key.
#[derive(Debug)]
pub struct Device {
    dir: TempDir,
    store: PathBuf,
    key: String,
}

impl Device {
    /// A store initialised for `officer` in `role` (exit 0 asserted).
    pub fn init(officer: &str, role: &str) -> Device {
        let device = Device::uninitialised(1);
        device.ok(&["init", "--officer", officer, "--role", role]);
        device
    }

    /// A second device for the same or another officer: its own directory and its own key.
    pub fn init_with_key(officer: &str, role: &str, seed: u8) -> Device {
        let device = Device::uninitialised(seed);
        device.ok(&["init", "--officer", officer, "--role", role]);
        device
    }

    /// A device whose store file does not exist yet.
    pub fn uninitialised(seed: u8) -> Device {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = dir.path().join("device.fbk");
        Device {
            dir,
            store,
            key: raw_key(seed),
        }
    }

    /// The directory the store lives in (scratch files go here too).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The store file.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// Runs a command on this device's store with its key.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_key(Some(&self.key), args)
    }

    /// Runs a command on this device's store with another key (or none).
    pub fn run_with_key(&self, key: Option<&str>, args: &[&str]) -> Run {
        let store = self.store.to_str().expect("temporary paths are UTF-8");
        let mut all = vec!["--store", store];
        all.extend_from_slice(args);
        fieldbook(self.dir.path(), key, &all)
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "{args:?} should succeed\n{}", run.transcript());
        run.stdout
    }

    /// Runs a command the rules must refuse (exit 1).
    pub fn refused(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            1,
            "{args:?} should be refused by the rules\n{}",
            run.transcript()
        );
        run
    }

    /// Runs a command that must fail as bad input (exit 2).
    pub fn bad(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code,
            2,
            "{args:?} should fail as bad input\n{}",
            run.transcript()
        );
        run
    }

    /// Creates a record of `kind`; returns its id.
    pub fn create(&self, kind: &str) -> String {
        let id = self.ok(&["new", kind]).trim().to_owned();
        assert!(!id.is_empty(), "new {kind} printed no id");
        id
    }

    /// Sets fields on a record (exit 0 asserted).
    pub fn set(&self, id: &str, assignments: &[&str]) {
        let mut args = vec!["set", id];
        args.extend_from_slice(assignments);
        self.ok(&args);
    }

    /// `show ID --json`, parsed.
    pub fn show_json(&self, id: &str) -> Value {
        parse_json(&self.ok(&["show", id, "--json"]))
    }

    /// `list --json` with extra filters, parsed.
    pub fn list_json(&self, filters: &[&str]) -> Vec<Value> {
        let mut args = vec!["list", "--json"];
        args.extend_from_slice(filters);
        match parse_json(&self.ok(&args)) {
            Value::Array(rows) => rows,
            other => panic!("list --json printed {other}, not a list"),
        }
    }

    /// The ids `list --json` (with filters) prints.
    pub fn listed_ids(&self, filters: &[&str]) -> Vec<String> {
        self.list_json(filters)
            .iter()
            .map(|row| row["id"].as_str().expect("every row has an id").to_owned())
            .collect()
    }

    /// Writes a scratch file next to the store; returns its path as an argument.
    pub fn write_file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("scratch file written");
        path.to_str().expect("temporary paths are UTF-8").to_owned()
    }

    /// Exports a record's document to a scratch file; returns the file's path.
    pub fn export(&self, id: &str, name: &str) -> String {
        let path = self.dir.path().join(name);
        let file = path.to_str().expect("temporary paths are UTF-8");
        self.ok(&["export-doc", id, file]);
        file.to_owned()
    }
}

/// Parses a command's JSON output.
pub fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The rule ids (`[rule-id]` suffixes) a refusal or a check printed, in order.
pub fn rule_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end();
            let open = line.rfind('[')?;
            line.ends_with(']')
                .then(|| line[open + 1..line.len() - 1].to_owned())
        })
        .collect()
}
