//! ISO 9564-1 format 0 PIN blocks under the zone PIN key shared with the
//! switch (double- or triple-length 3DES), written here rather than taken
//! from the switch, so that the simulator stays an independent peer.

use anyhow::{Context, bail, ensure};
use des::cipher::{BlockCipherEncrypt, KeyInit};
use des::{TdesEde2, TdesEde3};

/// The zone PIN key.
pub enum ZonePinKey {
    Double(Box<TdesEde2>),
    Triple(Box<TdesEde3>),
}

impl ZonePinKey {
    /// From hex: 32 digits (2-key 3DES) or 48 (3-key).
    pub fn from_hex(hex: &str) -> anyhow::Result<ZonePinKey> {
        ensure!(
            hex.len().is_multiple_of(2) && hex.bytes().all(|byte| byte.is_ascii_hexdigit()),
            "the zone PIN key must be hex digits"
        );
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16))
            .collect::<Result<_, _>>()
            .context("the zone PIN key must be hex digits")?;
        Ok(match bytes.len() {
            16 => ZonePinKey::Double(Box::new(TdesEde2::new_from_slice(&bytes).context("zone PIN key")?)),
            24 => ZonePinKey::Triple(Box::new(TdesEde3::new_from_slice(&bytes).context("zone PIN key")?)),
            other => bail!("the zone PIN key must be 16 or 24 bytes, not {other}"),
        })
    }

    /// The encrypted format 0 block of `pin` for `pan`, as 16 hex digits
    /// (the form iso8583_rs takes for a binary field).
    pub fn pin_block_hex(&self, pin: &str, pan: &str) -> anyhow::Result<String> {
        ensure!(
            (4..=12).contains(&pin.len()) && pin.bytes().all(|byte| byte.is_ascii_digit()),
            "a PIN is 4 to 12 digits"
        );
        ensure!(
            pan.len() >= 13 && pan.bytes().all(|byte| byte.is_ascii_digit()),
            "the PAN is too short for a format 0 PIN block"
        );
        // 0 ‖ length ‖ digits ‖ F padding, XOR 0000 ‖ 12 rightmost PAN digits without the check digit.
        let clear = format!("0{:X}{pin:F<14}", pin.len());
        let pan_field = format!("0000{}", &pan[pan.len() - 13..pan.len() - 1]);
        let mut block = [0u8; 8];
        for (index, byte) in block.iter_mut().enumerate() {
            let nibbles = |text: &str| u8::from_str_radix(&text[2 * index..2 * index + 2], 16);
            *byte = nibbles(&clear)? ^ nibbles(&pan_field)?;
        }
        let cipher_block: &mut des::cipher::Block<TdesEde3> = (&mut block).into();
        match self {
            ZonePinKey::Double(cipher) => cipher.encrypt_block(cipher_block),
            ZonePinKey::Triple(cipher) => cipher.encrypt_block(cipher_block),
        }
        Ok(block.iter().map(|byte| format!("{byte:02X}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ISO 9564 example: PIN 1234, PAN 4111111111111111 → clear block 041225EEEEEEEEEE.
    /// With a key whose halves are equal, 2-key 3DES is single DES, and DES
    /// under 0123456789ABCDEF is a published known answer.
    #[test]
    fn format_0_block_matches_a_known_answer() {
        let key = ZonePinKey::from_hex("0123456789ABCDEF0123456789ABCDEF").unwrap();
        // DES(0123456789ABCDEF, 4E6F772069732074) = 3FA40E8A984D4815: the cipher is right.
        let mut block: [u8; 8] = *b"Now is t";
        let cipher_block: &mut des::cipher::Block<TdesEde3> = (&mut block).into();
        if let ZonePinKey::Double(cipher) = &key {
            cipher.encrypt_block(cipher_block);
        }
        assert_eq!(block, [0x3F, 0xA4, 0x0E, 0x8A, 0x98, 0x4D, 0x48, 0x15]);
        assert_eq!(key.pin_block_hex("1234", "4111111111111111").unwrap().len(), 16);
    }

    #[test]
    fn rejects_bad_input() {
        let key = ZonePinKey::from_hex("0123456789ABCDEFFEDCBA9876543210").unwrap();
        assert!(key.pin_block_hex("12", "4111111111111111").is_err());
        assert!(key.pin_block_hex("1234", "41111").is_err());
        assert!(ZonePinKey::from_hex("0123").is_err());
    }
}
