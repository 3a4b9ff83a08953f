//! The golden cases of `golden/updates.json` and a few unit tests.
