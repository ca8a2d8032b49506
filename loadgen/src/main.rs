use std::process::ExitCode;

use loadgen::settings::{Settings, UsageError};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("ledger") {
        return loadgen::ledger::main(args.skip(1));
    }
    let settings = match Settings::parse(args) {
        Ok(settings) => settings,
        Err(UsageError::Help) => {
            println!("{}", UsageError::Help);
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("loadgen: {err}");
            return ExitCode::from(2);
        }
    };
    match actix_rt::System::new().block_on(loadgen::run(settings)) {
        Ok(report) => {
            print!("{report}");
            if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("loadgen: {err:#}");
            ExitCode::FAILURE
        }
    }
}
