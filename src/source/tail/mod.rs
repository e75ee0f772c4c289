//! PROVISIONAL: replaced by the tail branch.
pub async fn run(
    _config: crate::config::TailConfig,
    _data_dir: std::path::PathBuf,
    _pipeline: crate::pipeline::Pipeline,
    _shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    anyhow::bail!("tailing is not built yet")
}
