//! Any text as a config file: a config that passed validation or an error that names the
//! source, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meritflow_pipelines::config::Config;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Err(e) = Config::from_toml(text, "fuzz.toml") {
        assert!(e.to_string().contains("fuzz.toml"));
    }
});
