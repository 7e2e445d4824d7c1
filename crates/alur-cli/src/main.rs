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
enum CalendarCmd {
    /// Print the due time of an SLA started at a moment, in the unit's time zone.
    Due {
        /// Unit code (Kemendagri), e.g. 21.71.10.1001.
        #[arg(long)]
        unit: String,
        /// Start, RFC 3339 with offset, e.g. 2026-03-17T09:00:00+07:00.
        #[arg(long)]
        from: String,
        /// Duration: "3 hari kerja", "90 menit", "2 jam", "30 hari", "3 working days".
        #[arg(long)]
        sla: String,
        /// Configuration directory whose [calendar] applies (default: national calendar).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the working-day calendar of a year, holidays named.
    Show {
        /// Year, e.g. 2026.
        year: i16,
        /// Unit code whose calendar to show.
        #[arg(long, default_value = "21")]
        unit: String,
        /// Configuration directory whose [calendar] applies (default: national calendar).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Working-day calendar: due times and the yearly calendar.
    Calendar {
        #[command(subcommand)]
        command: CalendarCmd,
    },
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

fn calendars_for(
    config: Option<&PathBuf>,
    unit: &str,
) -> Result<alur_core::calendars::Calendars, String> {
    let Ok(regions) = alur_core::region::RegionIndex::embedded() else {
        return Err("embedded region data is damaged; reinstall alur".into());
    };
    if regions.get(unit).is_none() {
        return Err(format!(
            "unit code `{unit}` does not exist in the Kemendagri data; use a dotted code such as 21.71.10.1001"
        ));
    }
    match config {
        Some(dir) => alur_core::load_dir(dir)
            .map(|c| c.calendars)
            .map_err(|e| e.to_string()),
        None => {
            let c =
                alur_calendar::CalendarConfig::in_zone(alur_core::region::default_time_zone(unit));
            alur_core::calendars::Calendars::new(1, c, Vec::new()).map_err(|e| e.to_string())
        }
    }
}

fn calendar(cmd: CalendarCmd) -> Result<String, String> {
    match cmd {
        CalendarCmd::Due {
            unit,
            from,
            sla,
            config,
        } => {
            let cals = calendars_for(config.as_ref(), &unit)?;
            let cal = cals.for_unit(&unit);
            let start: jiff::Timestamp = from
                .parse()
                .map_err(|e| format!("--from `{from}` is not an RFC 3339 time with offset ({e}); write e.g. 2026-03-17T09:00:00+07:00"))?;
            let sla: alur_calendar::SlaDuration = sla.parse().map_err(|e| format!("--sla: {e}"))?;
            let due = cal.due(start, sla).map_err(|e| e.to_string())?;
            let local = due.to_zoned_datetime(cal.time_zone().clone());
            Ok(format!(
                "{}\ncalendar version: {}\n",
                local.strftime("%Y-%m-%dT%H:%M:%S%:z"),
                cal.version()
            ))
        }
        CalendarCmd::Show { year, unit, config } => {
            let cals = calendars_for(config.as_ref(), &unit)?;
            let overview = cals
                .for_unit(&unit)
                .show_year(year)
                .map_err(|e| e.to_string())?;
            Ok(overview.to_string())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Calendar { command } => match calendar(command) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
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
