//! The `branchdb` executable; everything it does is in [`branchdb::cli`].

/// A document server allocates and frees many small values per document (field
/// names, strings, maps); mimalloc serves those faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    branchdb::cli::main()
}
