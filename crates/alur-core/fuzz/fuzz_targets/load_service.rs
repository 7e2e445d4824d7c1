//! Fuzz the configuration loader: arbitrary bytes as a service file beside the Kepri example.
#![no_main]

use alur_core::config::{Sources, load_sources};
use libfuzzer_sys::fuzz_target;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../examples/config/kepri");

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let read = |p: &str| std::fs::read_to_string(format!("{DIR}/{p}")).ok();
    let src = Sources {
        main: ("alur.toml".into(), read("alur.toml")),
        roles: ("roles.toml".into(), read("roles.toml")),
        officers: ("officers.toml".into(), read("officers.toml")),
        services: vec![("services/fuzz.toml".into(), text)],
        read_errors: vec![],
    };
    let _ = load_sources(src);
});
