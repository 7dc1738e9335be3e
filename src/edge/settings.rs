//! The deployment's settings: the one place the worker reads its environment (vars, secrets and
//! bindings). The configuration and the keys are read once per isolate (the configuration
//! checked again in KV every minute); the rest is read per request, as the runtime hands it.

use std::cell::RefCell;

use worker::js_sys::Reflect;
use worker::{console_error, console_log, Date, Env, Fetcher};

use crate::config::Config;
use crate::pipeline::{KeySource, Keys};

use super::sinks::{Sinks, QUEUE_BINDING};

/// The compiled configuration bundled at build time (`make worker`); empty if none was given.
const BUNDLED_CONFIG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bundled-config.bin"));
/// Milliseconds a configuration read from Workers KV is used before it is read again.
const KV_TTL_MS: u64 = 60_000;
/// Default of `VITRINE_ORIGIN_TIMEOUT_MS`: how long the origin may take to send its headers.
const ORIGIN_TIMEOUT_MS: u64 = 15_000;

thread_local! {
    // One isolate runs one request at a time on one thread; these live as long as the isolate.
    static CONFIG: RefCell<Option<CachedConfig>> = const { RefCell::new(None) };
    // `Some(None)`: read, and no keys are trusted.
    static KEYS: RefCell<Option<Option<&'static Keys>>> = const { RefCell::new(None) };
}

struct CachedConfig {
    config: &'static Config,
    /// The bytes it came from, to notice a change in KV.
    bytes: Vec<u8>,
    checked_at: u64,
}

/// Where pages come from.
pub enum Origin {
    /// `ORIGIN_URL`: the request's path and query appended to it.
    Url(String),
    /// The static-assets binding (`ASSETS`, the demo store).
    Assets(Option<Fetcher>),
}

/// What a request needs to know of its deployment: where the origin is, read for every
/// request; the rest read only by the requests that use it (a static asset passing through
/// reads nothing more).
pub struct Settings<'e> {
    pub origin: Origin,
    /// `VITRINE_ORIGIN_TIMEOUT_MS`: the origin's time to send response headers.
    pub origin_timeout_ms: u64,
    env: &'e Env,
}

impl<'e> Settings<'e> {
    pub fn read(env: &'e Env) -> Settings<'e> {
        let origin = match secret(env, "ORIGIN_URL") {
            Some(url) => Origin::Url(url),
            None => Origin::Assets(env.assets("ASSETS").ok()),
        };
        Settings {
            origin,
            origin_timeout_ms: secret(env, "VITRINE_ORIGIN_TIMEOUT_MS")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .unwrap_or(ORIGIN_TIMEOUT_MS),
            env,
        }
    }

    /// `VITRINE_DEBUG_TOKEN`: the token that turns explain mode on; `None`: explain mode off.
    pub fn debug_token(&self) -> Option<String> {
        secret(self.env, "VITRINE_DEBUG_TOKEN")
    }

    /// `VITRINE_TEST_PANIC=1`: a debug request may ask for a panic (the fail-open tests).
    pub fn test_panic(&self) -> bool {
        secret(self.env, "VITRINE_TEST_PANIC").as_deref() == Some("1")
    }

    /// `VITRINE_COLLECT_URL` (with `VITRINE_COLLECT_TOKEN`) and the `VITRINE_EVENTS` Queue.
    pub fn sinks(&self) -> Sinks {
        Sinks::new(
            self.env
                .var("VITRINE_COLLECT_URL")
                .map(|v| v.to_string())
                .ok()
                .filter(|u| !u.is_empty()),
            secret(self.env, "VITRINE_COLLECT_TOKEN"),
            // Called through JS: the worker crate's Queue wrapper needs its `queue` feature,
            // and only `send` is used.
            Reflect::get(self.env, &QUEUE_BINDING.into())
                .ok()
                .filter(|q| q.is_object()),
        )
    }
}

/// A secret, or a plain var of that name (local `--var`); empty means unset.
fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty())
}

/// The configuration: from KV (`VITRINE_CONFIG_KV`, key `config`) when bound, else the bundled
/// one; parsed once and again only when KV's bytes change.
pub async fn config(env: &Env) -> Result<&'static Config, String> {
    let now = Date::now().as_millis();
    let cached = CONFIG.with(|c| {
        c.try_borrow()
            .ok()
            .and_then(|c| c.as_ref().map(|l| (l.config, l.checked_at)))
    });
    let kv = env.kv("VITRINE_CONFIG_KV").ok();
    if let Some((config, checked_at)) = cached {
        if kv.is_none() || now.saturating_sub(checked_at) < KV_TTL_MS {
            return Ok(config);
        }
    }
    let bytes = match &kv {
        Some(store) => match store.get("config").bytes().await {
            Ok(Some(b)) => b,
            Ok(None) => BUNDLED_CONFIG.to_vec(),
            Err(e) => {
                console_error!(
                    "vitrine: reading config from KV failed ({e}); using the bundled config"
                );
                BUNDLED_CONFIG.to_vec()
            }
        },
        None => BUNDLED_CONFIG.to_vec(),
    };
    let unchanged = CONFIG.with(|c| {
        c.try_borrow()
            .ok()
            .and_then(|c| c.as_ref().filter(|l| l.bytes == bytes).map(|l| l.config))
    });
    let config = match unchanged {
        Some(c) => c,
        None => {
            // A compiled configuration (`vitrine compile`): no JSON parsing at the edge.
            let parsed = Config::from_compiled(&bytes)
                .map_err(|e| format!("invalid configuration:\n{e}"))?;
            // NOTE: leaked once per isolate, and again only when the KV value changes.
            &*Box::leak(Box::new(parsed))
        }
    };
    CONFIG.with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut() {
            *slot = Some(CachedConfig {
                config,
                bytes,
                checked_at: now,
            });
        }
    });
    Ok(config)
}

/// The compiled configuration's bytes, as [`config`] read them (the browser module loads the
/// same ones from `/vitrine/config.bin`).
pub async fn config_bytes(env: &Env) -> Result<Vec<u8>, String> {
    config(env).await?;
    Ok(CONFIG.with(|c| {
        c.try_borrow()
            .ok()
            .and_then(|c| c.as_ref().map(|l| l.bytes.clone()))
            .unwrap_or_default()
    }))
}

/// The keys this deployment trusts, read once per isolate: its secrets, or the public
/// development keys only with `VITRINE_ALLOW_DEV_KEYS=1` (local demo and tests); `None` when
/// neither: state is kept unsigned and nothing signed is trusted ([`Keys::for_deployment`]).
pub fn keys(env: &Env) -> Result<Option<&'static Keys>, String> {
    if let Some(k) = KEYS.with(|k| k.try_borrow().ok().and_then(|k| *k)) {
        return Ok(k);
    }
    let state = secret(env, "VITRINE_STATE_KEYS");
    let traits = secret(env, "VITRINE_TRAITS_KEYS");
    let allow_dev = secret(env, "VITRINE_ALLOW_DEV_KEYS").as_deref() == Some("1");
    let keys = Keys::for_deployment(state.as_deref(), traits.as_deref(), allow_dev)
        .map_err(|e| format!("VITRINE_STATE_KEYS/VITRINE_TRAITS_KEYS: {e}"))?;
    let keys: Option<&'static Keys> = match keys {
        Some((keys, source)) => {
            if source == KeySource::Development {
                console_log!("vitrine: VITRINE_ALLOW_DEV_KEYS=1: signing with the public development keys (never in production)");
            }
            Some(Box::leak(Box::new(keys)))
        }
        None => {
            console_error!("vitrine: VITRINE_STATE_KEYS is not set: state is unsigned and no signed state or traits are trusted (set it with `wrangler secret put VITRINE_STATE_KEYS`; locally in `.dev.vars`, or VITRINE_ALLOW_DEV_KEYS=1 there for the public development keys: docs/edge.md)");
            None
        }
    };
    KEYS.with(|k| {
        if let Ok(mut slot) = k.try_borrow_mut() {
            *slot = Some(keys);
        }
    });
    Ok(keys)
}
