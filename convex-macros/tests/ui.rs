//! Compile-time tests: expansions that must compile (and run), and mistakes
//! that must be reported on the user's tokens with a clear message.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
