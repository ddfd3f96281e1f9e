use std::{io::Write, process::ExitCode};

use clap::Parser;
use shared::{auth::Role, testing::TestIssuer};
use uuid::Uuid;

/// Stands in for auth-service when the gateway is trained for its optimised build
/// (`scripts/pgo-build`): serves a JWKS on a free loopback port and prints, one per line, its
/// URL and then a signed 15-minute token for each requested role, each for another user.
#[derive(Debug, Parser)]
#[command(name = "bench-issuer", version, about)]
struct Args {
    /// The roles to sign a token for, comma-separated (`customer,courier,admin`).
    #[arg(long, env = "ROLES", value_delimiter = ',', value_parser = parse_role, default_value = "customer")]
    roles: Vec<Role>,
}

fn parse_role(name: &str) -> Result<Role, String> {
    Role::parse(name).ok_or_else(|| {
        let known: Vec<_> = Role::ALL.iter().map(|role| role.as_str()).collect();
        format!("unknown role '{name}' (known: {})", known.join(", "))
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let issuer = TestIssuer::start().await;
    if let Err(err) = print_lines(&issuer, &args.roles) {
        eprintln!("bench-issuer: {err}");
        return ExitCode::FAILURE;
    }
    // Serves until stopped; the keys live as long as the process.
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-issuer: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The JWKS URL, then a token per role, flushed at once: a script waits for them.
fn print_lines(issuer: &TestIssuer, roles: &[Role]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", issuer.jwks_url)?;
    for role in roles {
        writeln!(out, "{}", issuer.token(Uuid::now_v7(), &[*role]))?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_parsed_by_name_and_an_unknown_one_is_refused_with_the_known_ones() {
        let args = Args::try_parse_from(["bench-issuer", "--roles", "customer,admin"]).unwrap();
        assert_eq!(args.roles, [Role::Customer, Role::Admin]);
        let err = Args::try_parse_from(["bench-issuer", "--roles", "chef"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("unknown role 'chef'"), "{message}");
        assert!(message.contains("restaurant_owner"), "{message}");
    }
}
