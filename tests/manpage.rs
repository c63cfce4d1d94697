//! The man page documents every command-line option.

#[test]
fn every_option_is_in_the_man_page() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/doc/ftwall.8")).expect("doc/ftwall.8");
    // roff escapes the hyphens of long options.
    let page = page.replace("\\-", "-");
    let usage = ftwall::cli::settings::options().usage("");
    let mut checked = 0;
    // Each option line reads "    -x, --long ARG    description": take the part before the description.
    // (wrapped description lines are indented further, so they are skipped).
    let specs = usage.lines().filter(|l| l.starts_with("    -")).map(str::trim_start).map(|l| l.split("  ").next().unwrap_or(""));
    for word in specs.flat_map(str::split_whitespace) {
        let name = word.trim_end_matches(',').split('=').next().unwrap_or("").trim_end_matches('[');
        if name.starts_with('-') && name.len() > 1 {
            assert!(page.contains(name), "option {name} is not documented in doc/ftwall.8");
            checked += 1;
        }
    }
    assert!(checked > 25, "only {checked} options found in the usage text");
}
