//! `triage serve`: listen at once, load the model in the background, serve until SIGTERM,
//! then exit within `limits.shutdown_grace_secs`.

use triage_core::config::Config;
use triage_server as server;
use triage_server::AppState;

pub fn run(config: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("triage-http")
        .build()?;
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.addr)
            .await
            .map_err(|e| {
                let message = format!("cannot listen on {}: {e}", config.addr);
                anyhow::Error::new(e).context(message)
            })?;
        let state = AppState::new(config.clone());
        // Keys, the audit log and the bind-address rule are checked before any model
        // loads: a server that may not serve should not make anyone wait to say so.
        state.start_auth(listener.local_addr()?)?;
        tracing::info!(addr = %listener.local_addr()?, models = %config.models().join(", "), "listening; loading models");
        let loader = state.clone();
        let load = tokio::task::spawn_blocking(move || server::load_model(&loader));
        let (fail_tx, fail_rx) = tokio::sync::oneshot::channel::<anyhow::Error>();
        tokio::spawn(async move {
            let err = match load.await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => anyhow::Error::from(e),
                Err(e) => {
                    let message = format!("model loading crashed: {e}");
                    anyhow::Error::new(e).context(message)
                }
            };
            let _ = fail_tx.send(err);
        });
        // A model that cannot load is fatal: exit non-zero with the file named.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<anyhow::Error>();
        let shutdown = async move {
            tokio::select! {
                _ = server::shutdown_signal() => {}
                Ok(err) = fail_rx => { let _ = stop_tx.send(err); }
            }
        };
        server::serve(listener, state, shutdown).await?;
        match stop_rx.await {
            Ok(err) => Err(err),
            Err(_) => Ok(()),
        }
    });
    // Connections still open after the grace period are dropped here with their tasks;
    // blocking work (a model still loading, a store call) is not waited for, so the
    // process is gone within the grace period and a moment.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    served
}
