//! Any bytes through the event decoder: an event or a rejection naming a field, never a panic;
//! an accepted event survives its own JSON encoding unchanged; the fast path and the reference
//! path give the same event or the same rejection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meritflow_pipelines::events::{decode, decode_reference};

fuzz_target!(|bytes: &[u8]| {
    let decoded = decode(bytes);
    assert_eq!(decoded, decode_reference(bytes), "the two decode paths differ");
    match decoded {
        Ok(event) => {
            let again = decode(event.to_json().as_bytes())
                .unwrap_or_else(|r| panic!("re-encoded event rejected: {}", r.reason()));
            assert_eq!(again, event, "an event changed through its own encoding");
        }
        Err(rejection) => assert!(!rejection.reason().is_empty()),
    }
});
