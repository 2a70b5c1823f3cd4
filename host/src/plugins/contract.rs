//! Which version of the notifier contract a component was built against. Each version
//! has its own bindings module; a loaded plugin keeps the pre-linked instance of the one
//! it exports, and every call goes through that version's conversions.

use wasmtime::component::InstancePre;

use super::sandbox::PluginState;
use super::{v0_1, v0_2, PluginError};

#[derive(Clone)]
pub(super) enum Contract {
    V0_1(v0_1::NotifierPre<PluginState>),
    V0_2(v0_2::NotifierPre<PluginState>),
}

impl Contract {
    /// The newest version the component's exports match. A component's exports either
    /// type-check against a version's world or they don't, so trying each, newest
    /// first, is exact.
    pub(super) fn of(instance: InstancePre<PluginState>) -> Result<Contract, PluginError> {
        let newest = match v0_2::NotifierPre::new(instance.clone()) {
            Ok(pre) => return Ok(Contract::V0_2(pre)),
            Err(err) => err,
        };
        match v0_1::NotifierPre::new(instance) {
            Ok(pre) => Ok(Contract::V0_1(pre)),
            Err(oldest) => Err(PluginError::Invalid(format!(
                "does not export the emu-oncall:notifier world (0.2.0: {newest:#}; 0.1.0: {oldest:#})"
            ))),
        }
    }

    pub(super) fn version(&self) -> &'static str {
        match self {
            Contract::V0_1(_) => "0.1.0",
            Contract::V0_2(_) => "0.2.0",
        }
    }

    /// Whether the plugin can take providers' calls (`handle-inbound`).
    pub(super) fn takes_inbound(&self) -> bool {
        matches!(self, Contract::V0_2(_))
    }
}
