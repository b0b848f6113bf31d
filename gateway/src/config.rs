//! Configuration: command-line flags, `GATEWAY_*` environment variables and an optional TOML file, in that
//! order of precedence, resolved into one validated [`Config`]. `gateway --help` documents every setting.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

/// The real-time AI-agent gateway: authenticate with a JWT, open one WebSocket, send a message, and
/// receive the agent's run as five critical events (agent_started, agent_thinking, tool_executing,
/// tool_completed, agent_completed), in order, durably.
#[derive(Debug, Parser)]
#[command(name = "gateway", version)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for the default `serve`.
    #[command(flatten)]
    pub settings: Settings,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the protocol (the default).
    Serve(Settings),
    /// Mint a JWT for a user with the configured HS256 secret (for trying the gateway out).
    Token {
        /// The user id to put in `sub`.
        #[arg(long)]
        user: String,
        /// How long the token is valid, in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_seconds: u64,
        /// Settings (only the JWT ones matter here).
        #[command(flatten)]
        settings: Settings,
    },
}

/// The value of each setting nobody set: the one place defaults are written. `--help` repeats them in
/// its text, and a test checks that it says the same.
pub mod defaults {
    use super::{Ipv4Addr, SocketAddr, SocketAddrV4};

    /// Listen address.
    pub const BIND: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
    /// SQLite file.
    pub const DATABASE: &str = "gateway.db";
    /// Where a generated HS256 secret is kept.
    pub const JWT_SECRET_FILE: &str = "gateway.secret";
    /// Algorithm of a public key.
    pub const JWT_ALGORITHM: &str = "RS256";
    /// Frame size limit in bytes.
    pub const MAX_FRAME_BYTES: usize = 64 * 1024;
    /// Sustained messages per second per user (all their connections together).
    pub const RATE_LIMIT_PER_SECOND: u32 = 20;
    /// Burst of messages per user (all their connections together).
    pub const RATE_LIMIT_BURST: u32 = 40;
    /// Seconds between heartbeats.
    pub const HEARTBEAT_SECONDS: u64 = 30;
    /// Seconds runs may finish on shutdown.
    pub const SHUTDOWN_GRACE_SECONDS: u64 = 10;
    /// Pause between the default agent's steps, in milliseconds.
    pub const AGENT_STEP_DELAY_MS: u64 = 150;
    /// Seconds a write to a client may take before the client is deemed gone.
    pub const WRITE_TIMEOUT_SECONDS: u64 = 10;
    /// Milliseconds a database write waits for a lock held elsewhere.
    pub const STORE_BUSY_TIMEOUT_MS: u64 = 5000;
    /// Open connections one user may hold.
    pub const MAX_CONNECTIONS_PER_USER: usize = 64;
    /// Runs one user may have going at once.
    pub const MAX_RUNS_PER_USER: usize = 16;
    /// Bytes of event data one thread keeps (64 MiB).
    pub const HISTORY_BYTES_PER_THREAD: u64 = 64 * 1024 * 1024;
    /// Days a finished run is kept (0: forever).
    pub const HISTORY_DAYS: u64 = 0;
    /// Seconds between two prunings of the stored history.
    pub const PRUNE_INTERVAL_SECONDS: u64 = 60;
    /// Milliseconds a node's lease on its runs lasts without renewal (with a shared store).
    pub const LEASE_MS: u64 = 10_000;
}

/// How much history a thread keeps (the store's retention applies it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Most bytes of event data one thread keeps; its oldest whole runs are removed beyond it (the
    /// latest run is always kept, however large).
    pub bytes_per_thread: u64,
    /// Runs that ended longer ago than this are removed; `None` keeps them however old.
    pub max_age: Option<Duration>,
}

/// Every setting. Each may also be set in the `--config` file (same name, snake_case) or the environment.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A TOML file with any of these settings; flags and environment variables override it.
    #[arg(long, env = "GATEWAY_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "GATEWAY_BIND", value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// SQLite database file for threads, runs and events [default: gateway.db].
    #[arg(long, env = "GATEWAY_DATABASE", value_name = "FILE")]
    pub database: Option<PathBuf>,
    /// HS256 secret for verifying (and minting) tokens. Without this or a public key, a random secret is
    /// kept in `jwt_secret_file`.
    #[arg(long, env = "GATEWAY_JWT_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// File holding the HS256 secret, created with a random secret if missing [default: gateway.secret].
    #[arg(long, env = "GATEWAY_JWT_SECRET_FILE", value_name = "FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// PEM public key for RS256, ES256 or EdDSA tokens (instead of a secret).
    #[arg(long, env = "GATEWAY_JWT_PUBLIC_KEY", value_name = "FILE")]
    pub jwt_public_key: Option<PathBuf>,
    /// Algorithm of the public key: RS256, ES256 or EdDSA [default: RS256].
    #[arg(long, env = "GATEWAY_JWT_ALGORITHM", value_name = "ALG")]
    pub jwt_algorithm: Option<String>,
    /// Required `iss` claim, if set.
    #[arg(long, env = "GATEWAY_JWT_ISSUER", value_name = "ISS")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, if set.
    #[arg(long, env = "GATEWAY_JWT_AUDIENCE", value_name = "AUD")]
    pub jwt_audience: Option<String>,
    /// Largest accepted frame, in bytes; a bigger one closes the connection with 1009 [default: 65536].
    #[arg(long, env = "GATEWAY_MAX_FRAME_BYTES", value_name = "BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Messages one user (all their connections together) may send per second on average [default: 20].
    #[arg(long, env = "GATEWAY_RATE_LIMIT_PER_SECOND", value_name = "N")]
    pub rate_limit_per_second: Option<u32>,
    /// Messages one user (all their connections together) may send in a burst [default: 40].
    #[arg(long, env = "GATEWAY_RATE_LIMIT_BURST", value_name = "N")]
    pub rate_limit_burst: Option<u32>,
    /// Seconds between heartbeats sent to each client [default: 30].
    #[arg(long, env = "GATEWAY_HEARTBEAT_SECONDS", value_name = "S")]
    pub heartbeat_seconds: Option<u64>,
    /// On SIGTERM, seconds running runs get to finish before they are cancelled [default: 10].
    #[arg(long, env = "GATEWAY_SHUTDOWN_GRACE_SECONDS", value_name = "S")]
    pub shutdown_grace_seconds: Option<u64>,
    /// Pause between the default agent's reasoning steps, in milliseconds [default: 150].
    #[arg(long, env = "GATEWAY_AGENT_STEP_DELAY_MS", value_name = "MS")]
    pub agent_step_delay_ms: Option<u64>,
    /// Seconds one write to a client may block before the connection is closed (a client that does not
    /// read must not hold its memory and its runs' events forever) [default: 10].
    #[arg(long, env = "GATEWAY_WRITE_TIMEOUT_SECONDS", value_name = "S")]
    pub write_timeout_seconds: Option<u64>,
    /// Milliseconds a database write waits for a lock held by another connection (a backup, an
    /// operator's sqlite3) before it is retried, then the run failed [default: 5000].
    #[arg(long, env = "GATEWAY_STORE_BUSY_TIMEOUT_MS", value_name = "MS")]
    pub store_busy_timeout_ms: Option<u64>,
    /// Open connections one user may hold; one more is refused with 429 [default: 64].
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS_PER_USER", value_name = "N")]
    pub max_connections_per_user: Option<usize>,
    /// Runs one user may have going at once; one more is refused with TOO_MANY_RUNS [default: 16].
    #[arg(long, env = "GATEWAY_MAX_RUNS_PER_USER", value_name = "N")]
    pub max_runs_per_user: Option<usize>,
    /// Bytes of event data one thread keeps; its oldest whole runs are removed beyond it, and a resume
    /// from before them is told HISTORY_TRUNCATED [default: 67108864].
    #[arg(long, env = "GATEWAY_HISTORY_BYTES_PER_THREAD", value_name = "BYTES")]
    pub history_bytes_per_thread: Option<u64>,
    /// Days a finished run is kept before it is removed (0 keeps runs forever) [default: 0].
    #[arg(long, env = "GATEWAY_HISTORY_DAYS", value_name = "DAYS")]
    pub history_days: Option<u64>,
    /// Seconds between two prunings of the stored history [default: 60].
    #[arg(long, env = "GATEWAY_PRUNE_INTERVAL_SECONDS", value_name = "S")]
    pub prune_interval_seconds: Option<u64>,
    /// The store shared by several gateway nodes, `postgres://USER@HOST:PORT/DATABASE`; without it, the
    /// SQLite file `database` holds everything for this process alone.
    #[arg(long, env = "GATEWAY_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// Milliseconds a node's lease on its runs lasts without renewal, with a shared store: a node that
    /// dies has its runs taken over (and ended) by another this long after [default: 10000].
    #[arg(long, env = "GATEWAY_LEASE_MS", value_name = "MS")]
    pub lease_ms: Option<u64>,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The `--config` file is not valid.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
    /// A setting has a value that cannot work.
    #[error("invalid setting `{setting}`: {message}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// Why.
        message: String,
    },
    /// The secret file could not be read or created.
    #[error("cannot use secret file {path}: {source}")]
    Secret {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// How tokens are verified.
#[derive(Clone)]
pub enum JwtKey {
    /// A shared HS256 secret.
    Secret(Vec<u8>),
    /// A PEM public key and its algorithm.
    PublicKey {
        /// The PEM text.
        pem: Vec<u8>,
        /// RS256, ES256 or EdDSA.
        algorithm: jsonwebtoken::Algorithm,
    },
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match self {
            JwtKey::Secret(_) => f.write_str("Secret(..)"),
            JwtKey::PublicKey { algorithm, .. } => write!(f, "PublicKey({algorithm:?})"),
        }
    }
}

/// Where the event store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// The SQLite file `database`, for this process alone.
    Sqlite,
    /// A PostgreSQL server shared by several gateway nodes (the connection string).
    Postgres(String),
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address.
    pub bind: SocketAddr,
    /// SQLite file.
    pub database: PathBuf,
    /// Where the store lives: the SQLite file, or a shared PostgreSQL server.
    pub store: StoreLocation,
    /// How long a node's lease on its runs lasts without renewal (with a shared store).
    pub lease: Duration,
    /// Token verification key.
    pub jwt_key: JwtKey,
    /// Required issuer.
    pub jwt_issuer: Option<String>,
    /// Required audience.
    pub jwt_audience: Option<String>,
    /// Frame size limit in bytes.
    pub max_frame_bytes: usize,
    /// Sustained messages per second per user (all their connections together).
    pub rate_limit_per_second: u32,
    /// Burst of messages per user (all their connections together).
    pub rate_limit_burst: u32,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// How long runs may finish on shutdown before being cancelled.
    pub shutdown_grace: Duration,
    /// Pause between the default agent's steps.
    pub agent_step_delay: Duration,
    /// How long one write to a client may block.
    pub write_timeout: Duration,
    /// How long a database write waits for a lock held elsewhere.
    pub store_busy_timeout: Duration,
    /// Open connections one user may hold.
    pub max_connections_per_user: usize,
    /// Runs one user may have going at once.
    pub max_runs_per_user: usize,
    /// How much history each thread keeps.
    pub history: HistoryLimits,
    /// Time between two prunings of the stored history.
    pub prune_interval: Duration,
}

impl Config {
    /// A configuration for tests: an HS256 secret, small limits, no agent delay.
    pub fn for_tests(secret: &str, database: PathBuf) -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database,
            store: StoreLocation::Sqlite,
            lease: Duration::from_millis(defaults::LEASE_MS),
            jwt_key: JwtKey::Secret(secret.as_bytes().to_vec()),
            jwt_issuer: None,
            jwt_audience: None,
            max_frame_bytes: 64 * 1024,
            rate_limit_per_second: 1000,
            rate_limit_burst: 1000,
            heartbeat: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            agent_step_delay: Duration::ZERO,
            write_timeout: Duration::from_secs(10),
            store_busy_timeout: Duration::from_secs(5),
            max_connections_per_user: 64,
            max_runs_per_user: 16,
            history: HistoryLimits {
                bytes_per_thread: defaults::HISTORY_BYTES_PER_THREAD,
                max_age: None,
            },
            prune_interval: Duration::from_secs(defaults::PRUNE_INTERVAL_SECONDS),
        }
    }
}

impl Settings {
    /// Resolves flags and environment over the `--config` file over defaults.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str::<Settings>(&text).map_err(|e| ConfigError::Parse {
                    path: path.clone(),
                    message: e.to_string(),
                })?
            }
            None => Settings::default(),
        };
        let s = self.clone().over(file);
        let jwt_key = match (&s.jwt_public_key, &s.jwt_secret) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    setting: "jwt_public_key",
                    message: "set a public key or a secret, not both".into(),
                });
            }
            (Some(path), None) => {
                let pem = std::fs::read(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let algorithm = match s.jwt_algorithm.as_deref().unwrap_or(defaults::JWT_ALGORITHM) {
                    "RS256" => jsonwebtoken::Algorithm::RS256,
                    "ES256" => jsonwebtoken::Algorithm::ES256,
                    "EdDSA" => jsonwebtoken::Algorithm::EdDSA,
                    other => {
                        return Err(ConfigError::Invalid {
                            setting: "jwt_algorithm",
                            message: format!("`{other}` is not one of RS256, ES256, EdDSA"),
                        });
                    }
                };
                JwtKey::PublicKey { pem, algorithm }
            }
            (None, Some(secret)) if secret.len() < 16 => {
                return Err(ConfigError::Invalid {
                    setting: "jwt_secret",
                    message: "use at least 16 bytes".into(),
                });
            }
            (None, Some(secret)) => JwtKey::Secret(secret.as_bytes().to_vec()),
            (None, None) => JwtKey::Secret(secret_from_file(
                s.jwt_secret_file
                    .as_deref()
                    .unwrap_or(Path::new(defaults::JWT_SECRET_FILE)),
            )?),
        };
        let positive = |setting: &'static str, value: u64| {
            if value == 0 {
                Err(ConfigError::Invalid {
                    setting,
                    message: "must be greater than 0".into(),
                })
            } else {
                Ok(value)
            }
        };
        Ok(Config {
            bind: s.bind.unwrap_or(defaults::BIND),
            database: s.database.unwrap_or_else(|| PathBuf::from(defaults::DATABASE)),
            store: store_location(s.store)?,
            lease: Duration::from_millis(positive("lease_ms", s.lease_ms.unwrap_or(defaults::LEASE_MS))?),
            jwt_key,
            jwt_issuer: s.jwt_issuer,
            jwt_audience: s.jwt_audience,
            max_frame_bytes: positive(
                "max_frame_bytes",
                s.max_frame_bytes.unwrap_or(defaults::MAX_FRAME_BYTES) as u64,
            )? as usize,
            rate_limit_per_second: positive(
                "rate_limit_per_second",
                u64::from(s.rate_limit_per_second.unwrap_or(defaults::RATE_LIMIT_PER_SECOND)),
            )? as u32,
            rate_limit_burst: positive(
                "rate_limit_burst",
                u64::from(s.rate_limit_burst.unwrap_or(defaults::RATE_LIMIT_BURST)),
            )? as u32,
            heartbeat: Duration::from_secs(positive(
                "heartbeat_seconds",
                s.heartbeat_seconds.unwrap_or(defaults::HEARTBEAT_SECONDS),
            )?),
            shutdown_grace: Duration::from_secs(s.shutdown_grace_seconds.unwrap_or(defaults::SHUTDOWN_GRACE_SECONDS)),
            agent_step_delay: Duration::from_millis(s.agent_step_delay_ms.unwrap_or(defaults::AGENT_STEP_DELAY_MS)),
            write_timeout: Duration::from_secs(positive(
                "write_timeout_seconds",
                s.write_timeout_seconds.unwrap_or(defaults::WRITE_TIMEOUT_SECONDS),
            )?),
            store_busy_timeout: Duration::from_millis(
                s.store_busy_timeout_ms.unwrap_or(defaults::STORE_BUSY_TIMEOUT_MS),
            ),
            max_connections_per_user: positive(
                "max_connections_per_user",
                s.max_connections_per_user.unwrap_or(defaults::MAX_CONNECTIONS_PER_USER) as u64,
            )? as usize,
            max_runs_per_user: positive(
                "max_runs_per_user",
                s.max_runs_per_user.unwrap_or(defaults::MAX_RUNS_PER_USER) as u64,
            )? as usize,
            history: HistoryLimits {
                bytes_per_thread: positive(
                    "history_bytes_per_thread",
                    s.history_bytes_per_thread.unwrap_or(defaults::HISTORY_BYTES_PER_THREAD),
                )?,
                max_age: match s.history_days.unwrap_or(defaults::HISTORY_DAYS) {
                    0 => None,
                    days => Some(Duration::from_secs(days.saturating_mul(86_400))),
                },
            },
            prune_interval: Duration::from_secs(positive(
                "prune_interval_seconds",
                s.prune_interval_seconds.unwrap_or(defaults::PRUNE_INTERVAL_SECONDS),
            )?),
        })
    }

    /// Fills each setting not given here from `file`.
    fn over(self, file: Settings) -> Settings {
        Settings {
            config: self.config,
            bind: self.bind.or(file.bind),
            database: self.database.or(file.database),
            jwt_secret: self.jwt_secret.or(file.jwt_secret),
            jwt_secret_file: self.jwt_secret_file.or(file.jwt_secret_file),
            jwt_public_key: self.jwt_public_key.or(file.jwt_public_key),
            jwt_algorithm: self.jwt_algorithm.or(file.jwt_algorithm),
            jwt_issuer: self.jwt_issuer.or(file.jwt_issuer),
            jwt_audience: self.jwt_audience.or(file.jwt_audience),
            max_frame_bytes: self.max_frame_bytes.or(file.max_frame_bytes),
            rate_limit_per_second: self.rate_limit_per_second.or(file.rate_limit_per_second),
            rate_limit_burst: self.rate_limit_burst.or(file.rate_limit_burst),
            heartbeat_seconds: self.heartbeat_seconds.or(file.heartbeat_seconds),
            shutdown_grace_seconds: self.shutdown_grace_seconds.or(file.shutdown_grace_seconds),
            agent_step_delay_ms: self.agent_step_delay_ms.or(file.agent_step_delay_ms),
            write_timeout_seconds: self.write_timeout_seconds.or(file.write_timeout_seconds),
            store_busy_timeout_ms: self.store_busy_timeout_ms.or(file.store_busy_timeout_ms),
            max_connections_per_user: self.max_connections_per_user.or(file.max_connections_per_user),
            max_runs_per_user: self.max_runs_per_user.or(file.max_runs_per_user),
            history_bytes_per_thread: self.history_bytes_per_thread.or(file.history_bytes_per_thread),
            history_days: self.history_days.or(file.history_days),
            prune_interval_seconds: self.prune_interval_seconds.or(file.prune_interval_seconds),
            store: self.store.or(file.store),
            lease_ms: self.lease_ms.or(file.lease_ms),
        }
    }
}

/// The store a `--store` value names: a PostgreSQL connection string, or none (the SQLite file).
fn store_location(store: Option<String>) -> Result<StoreLocation, ConfigError> {
    match store {
        None => Ok(StoreLocation::Sqlite),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(StoreLocation::Postgres(url))
        }
        Some(other) => Err(ConfigError::Invalid {
            setting: "store",
            message: format!(
                "`{other}` is not a PostgreSQL connection string (postgres://USER@HOST:PORT/DATABASE); leave it out to use the SQLite file `database`"
            ),
        }),
    }
}

/// Reads the HS256 secret file, creating it with 32 random bytes (hex) if it does not exist.
fn secret_from_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let error = |source| ConfigError::Secret {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().as_bytes().to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(error)?;
            std::io::Write::write_all(&mut file, secret.as_bytes()).map_err(error)?;
            Ok(secret.into_bytes())
        }
        Err(e) => Err(error(e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_states_the_defaults_resolve_uses() {
        use clap::CommandFactory;
        let help = super::Cli::command().render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for shown in [
            super::defaults::BIND.to_string(),
            super::defaults::DATABASE.to_owned(),
            super::defaults::JWT_SECRET_FILE.to_owned(),
            super::defaults::JWT_ALGORITHM.to_owned(),
            super::defaults::MAX_FRAME_BYTES.to_string(),
            super::defaults::RATE_LIMIT_PER_SECOND.to_string(),
            super::defaults::RATE_LIMIT_BURST.to_string(),
            super::defaults::HEARTBEAT_SECONDS.to_string(),
            super::defaults::SHUTDOWN_GRACE_SECONDS.to_string(),
            super::defaults::AGENT_STEP_DELAY_MS.to_string(),
            super::defaults::WRITE_TIMEOUT_SECONDS.to_string(),
            super::defaults::STORE_BUSY_TIMEOUT_MS.to_string(),
            super::defaults::MAX_CONNECTIONS_PER_USER.to_string(),
            super::defaults::MAX_RUNS_PER_USER.to_string(),
            super::defaults::HISTORY_BYTES_PER_THREAD.to_string(),
            super::defaults::HISTORY_DAYS.to_string(),
            super::defaults::PRUNE_INTERVAL_SECONDS.to_string(),
        ] {
            assert!(
                help.contains(&format!("[default: {shown}]")),
                "--help does not say [default: {shown}]"
            );
        }
    }

    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("gateway.toml");
        std::fs::write(
            &file,
            "bind = \"127.0.0.1:9000\"\nmax_frame_bytes = 1000\njwt_secret = \"0123456789abcdef0123\"\n",
        )
        .expect("write");
        let settings = Settings {
            config: Some(file),
            max_frame_bytes: Some(2000),
            ..Settings::default()
        };
        let config = settings.resolve().expect("resolves");
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.max_frame_bytes, 2000);
        assert_eq!(config.heartbeat, Duration::from_secs(30));
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("gateway.toml");
        std::fs::write(&file, "bnid = \"x\"\n").expect("write");
        let error = Settings {
            config: Some(file),
            ..Settings::default()
        }
        .resolve()
        .expect_err("unknown key");
        assert!(error.to_string().contains("bnid"), "{error}");
        let short = Settings {
            jwt_secret: Some("short".into()),
            ..Settings::default()
        }
        .resolve()
        .expect_err("short");
        assert!(short.to_string().contains("16 bytes"));
        let zero = Settings {
            jwt_secret: Some("0123456789abcdef".into()),
            heartbeat_seconds: Some(0),
            ..Settings::default()
        };
        assert!(
            zero.resolve()
                .expect_err("zero")
                .to_string()
                .contains("heartbeat_seconds")
        );
    }

    #[test]
    fn a_missing_secret_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gateway.secret");
        let first = secret_from_file(&path).expect("creates");
        let second = secret_from_file(&path).expect("reads");
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
    }

    #[test]
    fn key_material_is_never_printed() {
        let key = JwtKey::Secret(b"super-secret-value".to_vec());
        assert!(!format!("{key:?}").contains("super"));
    }
}
