//! The `alur` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "alur",
    version,
    about = "Layanan publik digital untuk kelurahan, desa dan kecamatan / digital public services for Indonesian local offices"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum PublishFormat {
    Markdown,
    Html,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a configuration directory and list every problem (file:line:column, key, hint).
    Validate {
        /// Configuration directory (alur.toml, roles.toml, officers.toml, services/).
        dir: PathBuf,
    },
    /// Print each service's published standard (Permenpan-RB 15/2014) in Indonesian.
    Services {
        /// Configuration directory.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: PublishFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Validate { dir } => match alur_core::load_dir(&dir) {
            Ok(config) => {
                println!(
                    "{}: konfigurasi valid / configuration is valid ({} layanan)",
                    dir.display(),
                    config.services.len()
                );
                for s in config.services.values() {
                    println!(
                        "  {:<30} {:<13} {:<10} {:>2} tahap  {:<14} {}",
                        s.id,
                        s.category.label(),
                        s.runs_at.as_str(),
                        s.steps.len(),
                        s.completion_time.to_string(),
                        s.name
                    );
                }
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for d in &errors.0 {
                    eprintln!("error: {d}");
                }
                eprintln!(
                    "{} masalah ditemukan / {} problem(s) found",
                    errors.0.len(),
                    errors.0.len()
                );
                ExitCode::FAILURE
            }
        },
        Cmd::Services { dir, format } => match alur_core::load_dir(&dir) {
            Ok(config) => {
                let f = match format {
                    PublishFormat::Markdown => alur_core::publish::Format::Markdown,
                    PublishFormat::Html => alur_core::publish::Format::Html,
                };
                print!("{}", alur_core::publish::render(&config, f));
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for d in &errors.0 {
                    eprintln!("error: {d}");
                }
                eprintln!("run `alur validate {}` for details", dir.display());
                ExitCode::FAILURE
            }
        },
    }
}
