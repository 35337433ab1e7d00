//! Any bytes as a playbook: front-matter parsing and validation never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = firedrill::playbook::parse(text);
    }
});
