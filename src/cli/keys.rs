//! `triage keys`: make an API key (`add`), list the keys of the keys file (`list`) or
//! revoke one (`remove`). A new key is printed once, on stdout, and only its SHA-256 is
//! written to the file; a running server picks every change up within `auth.reload_ms`.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use triage_core::config::Config;
use triage_core::tenant::Tenant;
use triage_server::auth::keys;
use triage_server::auth::roles::Role;

/// Where keys go when neither `--file` nor `auth.keys_file` says.
const DEFAULT_KEYS_FILE: &str = "config/keys.toml";

#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a key, append its hash to the keys file and print the key (only this once)
    Add {
        /// Shown in the audit log; unique in the file
        #[arg(long)]
        name: String,
        /// Whose conversations the key reaches (letters, digits, '.', '_', '-')
        #[arg(long, default_value = Tenant::DEFAULT_NAME)]
        tenant: String,
        /// client, agent or admin
        #[arg(long)]
        role: String,
        /// Keys file [default: auth.keys_file, else config/keys.toml]
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// List the keys of the keys file: name, tenant, role
    List {
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Revoke a key: remove its entry from the keys file (a running server stops
    /// accepting it within auth.reload_ms)
    Remove {
        /// The key's name, as `list` shows it
        #[arg(long)]
        name: String,
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub fn run(config: Config, args: KeysArgs) -> anyhow::Result<()> {
    let file_of = |file: Option<PathBuf>| {
        file.or_else(|| config.auth.keys_file.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYS_FILE))
    };
    match args.command {
        KeysCommand::Add {
            name,
            tenant,
            role,
            file,
        } => {
            let tenant: Tenant = tenant.parse()?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let file = file_of(file);
            let key = keys::add(&file, &name, &tenant, role)?;
            eprintln!(
                "added key {name:?} (tenant {tenant}, role {role}) to {}; it is shown only now:",
                file.display()
            );
            println!("{key}");
            if config.auth.keys_file.as_deref() != Some(file.as_path()) {
                eprintln!(
                    "note: the server reads keys from auth.keys_file (--keys-file, TRIAGE_KEYS_FILE); set it to {}",
                    file.display()
                );
            }
        }
        KeysCommand::List { file } => {
            let file = file_of(file);
            for e in keys::load(&file)?.entries() {
                println!("{}\t{}\t{}", e.name, e.tenant, e.role);
            }
        }
        KeysCommand::Remove { name, file } => {
            let file = file_of(file);
            let gone = keys::remove(&file, &name)?;
            eprintln!(
                "removed key {:?} (tenant {}, role {}) from {}",
                gone.name,
                gone.tenant,
                gone.role,
                file.display()
            );
        }
    }
    Ok(())
}
