//! How long a signed-out session's access token is still honoured at the gateway:
//! `scripts/bench-revocation` starts auth-service, the gateway and a trivial order backend,
//! and runs this against them. Each round signs in, calls a protected route, signs out,
//! and calls the route again with the old token as fast as it answers until it is refused.

use std::{
    io::Write,
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;
use serde_json::{Value, json};

/// The measurement's settings.
#[derive(Debug, Parser)]
#[command(name = "bench-revocation", version, about)]
struct Args {
    /// The gateway's base URL.
    #[arg(long)]
    gateway: String,
    /// Sign-in, sign-out rounds measured.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// The protected route called before and after signing out.
    #[arg(long, default_value = "/orders/bench")]
    route: String,
    /// Longest a round may wait for the refusal.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    limit: Duration,
    /// With `--remove-namespace`: the broker and the run's prefix to remove.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    #[arg(long, default_value = "")]
    amqp_prefix: String,
    /// Removes the run's broker names and exits.
    #[arg(long)]
    remove_namespace: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.remove_namespace {
        let delays = messaging::RetryDelays([1, 5, 30].map(Duration::from_secs).to_vec());
        let mut namespace = messaging::testing::TestBroker::with_prefix(&args.amqp_prefix, delays);
        namespace.url = args.amqp_url.clone();
        drop(namespace);
        return ExitCode::SUCCESS;
    }
    match run(&args).await {
        Ok(report) => {
            let _ = writeln!(std::io::stdout(), "{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench-revocation: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<String, String> {
    let client = reqwest::Client::new();
    let email = format!("revocation-{}@bench.local", uuid::Uuid::now_v7().simple());
    let password = "the bench user's password";
    let body = json!({"email": email, "password": password, "display_name": "bench"});
    let registered = post(&client, &args.gateway, "/auth/register", None, &body).await?;
    expect(registered.0, 201, "register", &registered.1)?;
    let mut delays = Vec::with_capacity(args.rounds);
    let mut polls = 0_usize;
    for _ in 0..args.rounds {
        let login = json!({"email": email, "password": password});
        let (status, tokens) = post(&client, &args.gateway, "/auth/login", None, &login).await?;
        expect(status, 200, "login", &tokens)?;
        let token = tokens["access_token"].as_str().ok_or("no access token")?;
        expect(
            get(&client, args, token).await?,
            200,
            "the route",
            &Value::Null,
        )?;
        let (status, answer) = post(
            &client,
            &args.gateway,
            "/auth/logout",
            Some(token),
            &json!({}),
        )
        .await?;
        expect(status, 204, "logout", &answer)?;
        let signed_out = Instant::now();
        loop {
            polls += 1;
            match get(&client, args, token).await? {
                401 => break,
                200 if signed_out.elapsed() < args.limit => {}
                other => return Err(format!("the old token got {other} after the logout")),
            }
        }
        delays.push(signed_out.elapsed());
    }
    delays.sort_unstable();
    let at = |quantile: f64| {
        let index = ((delays.len() as f64 - 1.0) * quantile).round() as usize;
        delays[index].as_secs_f64() * 1000.0
    };
    Ok(format!(
        "{} logouts: the old token refused after p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
         ({:.1} calls per logout, the first after the logout's answer included)",
        delays.len(),
        at(0.5),
        at(0.99),
        at(1.0),
        polls as f64 / delays.len().max(1) as f64,
    ))
}

fn expect(status: u16, wanted: u16, what: &str, body: &Value) -> Result<(), String> {
    if status == wanted {
        Ok(())
    } else {
        Err(format!("{what}: {status} instead of {wanted}: {body}"))
    }
}

async fn post(
    client: &reqwest::Client,
    gateway: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<(u16, Value), String> {
    let mut request = client.post(format!("{gateway}{path}")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|err| err.to_string())?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

async fn get(client: &reqwest::Client, args: &Args, token: &str) -> Result<u16, String> {
    let response = client
        .get(format!("{}{}", args.gateway, args.route))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|err| err.to_string())?;
    Ok(response.status().as_u16())
}
