//! `simulator chaos`: placeholder while the run is written.

#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    #[arg(long)]
    pub seed: Option<u64>,
}

pub async fn run(_args: ChaosArgs) -> anyhow::Result<bool> {
    anyhow::bail!("not yet")
}
