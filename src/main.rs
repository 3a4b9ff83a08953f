//! The `branchdb` executable; everything it does is in [`branchdb::cli`].

fn main() -> std::process::ExitCode {
    branchdb::cli::main()
}
