//! The embedded quickstart world (`scenarios/quickstart.toml`): what `redlink up` runs without a
//! scenario.

use crate::scenario::Scenario;

/// The file name errors and reports use for the embedded quickstart.
pub const QUICKSTART_FILE: &str = "scenarios/quickstart.toml";

/// The quickstart scenario's text.
pub const QUICKSTART_TOML: &str = include_str!("../../../scenarios/quickstart.toml");

/// The quickstart scenario, parsed.
pub fn quickstart() -> Scenario {
    match Scenario::parse(QUICKSTART_FILE, QUICKSTART_TOML) {
        Ok(s) => s,
        // The text is compiled in and covered by tests: failing here is a build defect.
        Err(e) => panic!("the embedded quickstart scenario is invalid: {e}"),
    }
}
