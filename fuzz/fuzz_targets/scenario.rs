//! Any bytes as a scenario file: loading and validating must return a value or a list of
//! problems, never panic, overflow the stack or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // A base directory that holds no playbooks: `playbook:` paths fail to read, cleanly.
        let _ = firedrill::scenario::load_str(text, std::path::Path::new("/nonexistent"));
    }
});
