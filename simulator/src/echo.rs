//! `simulator echo`: sign-on, then echo tests one at a time, with round-trip times.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{bail, ensure};

use crate::wire::{Link, build, field, parse};

pub async fn run(switch: SocketAddr, count: u32) -> anyhow::Result<()> {
    ensure!(count > 0, "--count must be at least 1");
    let mut link = Link::connect(switch).await?;
    exchange(&mut link, "801", 0).await?;
    println!("signed on to {switch}");
    let mut round_trips_us = Vec::with_capacity(count as usize);
    for stan in 1..=count {
        let started = Instant::now();
        exchange(&mut link, "831", stan).await?;
        round_trips_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    round_trips_us.sort_by(f64::total_cmp);
    let at = |quantile: f64| round_trips_us[((round_trips_us.len() - 1) as f64 * quantile).round() as usize];
    println!(
        "{count} echo tests: round trip min {:.0} µs, median {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        at(0.0),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Sends one 2804 with `function_code` and checks the 2814 answer.
async fn exchange(link: &mut Link, function_code: &str, stan: u32) -> anyhow::Result<()> {
    let stan = format!("{:06}", stan % 1_000_000);
    let transmitted = transmission_time();
    link.send(build("2804", &[(7, &transmitted), (11, &stan), (24, function_code)])?)
        .await?;
    let answer = parse(&link.receive().await?)?;
    let mti = answer.get_field_value(&"message_type".to_string()).unwrap_or_default();
    let action = field(&answer, 39).unwrap_or_default();
    let echoed = field(&answer, 11).unwrap_or_default();
    if mti != "2814" || action != "8000" || echoed != stan {
        bail!("2804/{function_code} STAN {stan}: answered MTI {mti}, DE 39 {action}, DE 11 {echoed}");
    }
    Ok(())
}

/// DE 7 (MMDDhhmmss, UTC) from the system clock.
pub fn transmission_time() -> String {
    chrono::Utc::now().format("%m%d%H%M%S").to_string()
}
