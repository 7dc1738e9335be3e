//! base64url without padding (RFC 4648 §5), for state tokens, traits and keys.
//!
//! The browser module encodes with RustCrypto's `base64ct` (2.6 KB gzip smaller); every other
//! build with the `base64` crate (the native decide path is ~10% faster with it). Both are
//! strict (no padding, canonical trailing bits), and a property test holds them equal.

#[cfg(browser_bundle)]
use base64ct::{Base64UrlUnpadded, Encoding as _};

#[cfg(not(browser_bundle))]
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};

pub fn encode(bytes: &[u8]) -> String {
    #[cfg(browser_bundle)]
    return Base64UrlUnpadded::encode_string(bytes);
    #[cfg(not(browser_bundle))]
    return URL_SAFE_NO_PAD.encode(bytes);
}

/// `None` for anything but canonical unpadded base64url.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    #[cfg(browser_bundle)]
    return Base64UrlUnpadded::decode_vec(text).ok();
    #[cfg(not(browser_bundle))]
    return URL_SAFE_NO_PAD.decode(text).ok();
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn both_codecs_encode_alike(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(URL_SAFE_NO_PAD.encode(&bytes), Base64UrlUnpadded::encode_string(&bytes));
        }

        #[test]
        fn both_codecs_accept_and_refuse_alike(text in "[A-Za-z0-9_=+/-]{0,24}") {
            prop_assert_eq!(
                URL_SAFE_NO_PAD.decode(&text).ok(),
                Base64UrlUnpadded::decode_vec(&text).ok()
            );
        }
    }
}
