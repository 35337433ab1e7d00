//! The `firedrill` binary: parse flags, hand over to the library, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = firedrill::cli::Cli::parse();
    std::process::ExitCode::from(firedrill::cli::main(cli) as u8)
}

/// glibc's malloc gives every thread that allocates an arena of its own and keeps what is
/// freed there, and it raises its mmap threshold after each large free, so the next AWS
/// answer lands in the heap too. A run allocates little besides those answers: one arena
/// and a fixed threshold (large buffers go back to the kernel when freed) cut peak RSS by
/// a fifth at 1000 instances (BENCHMARKS.md). Other platforms keep their defaults.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets malloc's parameters; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
