//! Reading a binary's configuration: its flags and environment, the `healthcheck`
//! subcommand, and errors on one line.

use clap::{Command, CommandFactory, Parser, error::ContextKind};

/// Parses the configuration of `T` from the process's arguments and environment.
///
/// On a bad value it prints one line naming the flag, its environment variable and the
/// value, and exits with status 2; `--help` and `--version` behave as usual. `healthcheck`
/// as the first argument runs [the health check](crate::healthcheck) instead and exits with
/// its status. The secrets given a development value are noted, for a warning once logging
/// has started.
pub fn parse<T: Parser>() -> T {
    let mut command = command::<T>();
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == crate::healthcheck::NAME)
        && let Some(healthcheck) = command.find_subcommand(crate::healthcheck::NAME)
    {
        std::process::exit(crate::healthcheck::run(
            healthcheck.clone(),
            std::env::args_os().skip(1),
        ));
    }
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|matches| {
            crate::dev_defaults::note(crate::dev_defaults::in_use(&command, &matches));
            T::from_arg_matches(&matches)
        });
    match parsed {
        Ok(config) => config,
        Err(err) => {
            let err = err.format(&mut command);
            if !err.use_stderr() {
                err.exit();
            }
            eprintln!("{}", explain(&err, &command));
            std::process::exit(2);
        }
    }
}

/// `T`'s command line as its binary parses it: with the `healthcheck` subcommand when `T`
/// has a port.
pub fn command<T: CommandFactory>() -> Command {
    let command = T::command();
    match crate::healthcheck::command(&command) {
        // Flags before `healthcheck` would be the server's, not the check's: refused.
        Some(healthcheck) => command
            .subcommand(healthcheck)
            .args_conflicts_with_subcommands(true)
            .disable_help_subcommand(true),
        None => command,
    }
}

/// Turns a clap error into one line that also names the environment variable of the
/// offending flag, so that a bad value coming from the environment can be found.
pub fn explain(err: &clap::Error, command: &Command) -> String {
    let rendered = err.to_string();
    // The message proper ends at the first blank line (usage and hints follow).
    let first = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let Some(invalid) = err.get(ContextKind::InvalidArg).map(|arg| arg.to_string()) else {
        return first;
    };
    let long = invalid
        .trim_start_matches('-')
        .split([' ', '=', '<'])
        .next()
        .unwrap_or_default();
    let env = command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long))
        .and_then(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned());
    match env {
        Some(env) => first.replacen(
            &format!("'{invalid}'"),
            &format!("'{invalid}' (environment variable {env})"),
            1,
        ),
        None => first,
    }
}
