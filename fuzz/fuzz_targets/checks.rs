//! What every target that resolves a Policy checks of the answer (shared by `#[path]`).

use tooljail::error::{Error, Location};
use tooljail::policy::Policy;

/// A resolved Policy survives the JSON round trip `explain --json` promises.
pub fn round_trips(policy: &Policy) {
    let json = serde_json::to_string(policy).expect("Policy serializes");
    let back: Policy = serde_json::from_str(&json).expect("Policy JSON parses");
    assert_eq!(&back, policy);
}

/// A refusal has at least one error, each placed (a file position, a flag or a step) and one
/// line long.
pub fn placed_one_line(errors: &[Error]) {
    assert!(!errors.is_empty());
    for e in errors {
        assert!(e.location != Location::None, "unplaced error: {e}");
        assert!(!e.to_string().contains('\n'), "multi-line error: {e:?}");
    }
}
