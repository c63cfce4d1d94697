//! The `ftwall` program: everything happens in the library; see `ftwall::cli`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(ftwall::cli::main(&args));
}
