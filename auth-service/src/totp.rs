//! TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps) and recovery codes.

use ring::rand::{SecureRandom, SystemRandom};
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP: u64 = 30;
const DIGITS: usize = 6;
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new random secret (160 bits, as RFC 4226 recommends), base32.
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0_u8; 20];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness")?;
    Ok(Secret::Raw(bytes.to_vec()).to_encoded().to_string())
}

/// The generator for a base32 `secret`, labelled for authenticator apps.
pub fn generator(secret: &str, issuer: &str, account: &str) -> Result<TOTP, String> {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .map_err(|err| format!("{err:?}"))?;
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        bytes,
        Some(issuer.to_owned()),
        account.to_owned(),
    )
    .map_err(|err| err.to_string())
}

/// The step `code` belongs to, among the current one and one either side, if it is later
/// than `last_step` (a code is accepted once).
pub fn matching_step(totp: &TOTP, code: &str, now: u64, last_step: u64) -> Option<u64> {
    let current = now / STEP;
    (current.saturating_sub(1)..=current + 1)
        .filter(|step| *step > last_step)
        .find(|step| totp.generate(step * STEP) == code.trim())
}

/// The Unix time now, in seconds.
pub fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}

/// Characters in a recovery code: 20 of 31 is some 99 bits.
const RECOVERY_LENGTH: usize = 20;

/// Ten one-time recovery codes, `xxxxx-xxxxx-xxxxx-xxxxx`, each of 99 random bits.
pub fn recovery_codes() -> Result<Vec<String>, String> {
    let random = SystemRandom::new();
    (0..10).map(|_| recovery_code(&random)).collect()
}

fn recovery_code(random: &SystemRandom) -> Result<String, String> {
    let alphabet = RECOVERY_ALPHABET.len();
    // Bytes past the last whole multiple of the alphabet are drawn again, so that every
    // character is equally likely.
    let limit = 256 - 256 % alphabet;
    let mut chars = String::with_capacity(RECOVERY_LENGTH + 3);
    while chars.len() < RECOVERY_LENGTH + 3 {
        let mut bytes = [0_u8; 32];
        random.fill(&mut bytes).map_err(|_| "no randomness")?;
        for byte in bytes
            .map(usize::from)
            .into_iter()
            .filter(|byte| *byte < limit)
        {
            if chars.len() == RECOVERY_LENGTH + 3 {
                break;
            }
            if chars.len() % 6 == 5 {
                chars.push('-');
            }
            chars.push(char::from(RECOVERY_ALPHABET[byte % alphabet]));
        }
    }
    Ok(chars)
}

/// A recovery code as typed, reduced to the form that is hashed.
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits, the RFC's reference secret).
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let totp = TOTP::new(
            Algorithm::SHA1,
            8,
            1,
            30,
            b"12345678901234567890".to_vec(),
            None,
            "rfc".to_owned(),
        )
        .expect("a valid generator");
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time), code, "T = {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_once() {
        let secret = new_secret().expect("a secret");
        let totp = generator(&secret, "Food Delivery", "ada@example.com").expect("a generator");
        let now = 1_700_000_000;
        let code = totp.generate(now);
        assert_eq!(matching_step(&totp, &code, now, 0), Some(now / STEP));
        assert_eq!(
            matching_step(&totp, &code, now + STEP, 0),
            Some(now / STEP),
            "one step late is accepted"
        );
        assert_eq!(
            matching_step(&totp, &code, now + 2 * STEP, 0),
            None,
            "two steps late is not"
        );
        assert_eq!(
            matching_step(&totp, &code, now, now / STEP),
            None,
            "a used step is refused"
        );
    }

    #[test]
    fn recovery_codes_are_ten_distinct_of_at_least_80_bits_and_normalise() {
        let codes = recovery_codes().expect("codes");
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 23, "{code}");
            assert_eq!(code.split('-').count(), 4, "{code}");
            let bits = normalise_recovery_code(code).len() as f64
                * (RECOVERY_ALPHABET.len() as f64).log2();
            assert!(bits >= 80.0, "{code}: {bits} bits");
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert_eq!(normalise_recovery_code(" ABCDE-fghjk "), "abcdefghjk");
    }

    #[test]
    fn the_uri_is_for_authenticator_apps() {
        let totp = generator(
            &new_secret().expect("a secret"),
            "Food Delivery",
            "ada@example.com",
        )
        .expect("a generator");
        assert!(totp.get_url().starts_with("otpauth://totp/"));
    }
}
