//! sophon-gateway as a signer (`Gateway.*` on `/rpc/v2`, `Signer.Type = "gateway"`).

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use market_types::{Address, Bytes, Signature};

use super::wallet::MsgMeta;
use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

#[rpc(server, client, namespace = "Gateway", namespace_separator = ".")]
pub trait Gateway {
    /// Whether one of `accounts` has a wallet holding `addr`.
    #[method(name = "WalletHas")]
    async fn wallet_has(&self, addr: Json<Address>, accounts: Vec<String>) -> RpcResult<bool>;

    #[method(name = "WalletSign")]
    async fn wallet_sign(
        &self,
        addr: Json<Address>,
        accounts: Vec<String>,
        data: Json<Bytes>,
        meta: MsgMeta,
    ) -> RpcResult<Json<Signature>>;
}

pub const METHODS: &[MethodSpec] = &[spec("WalletHas", Perm::Read, 2), spec("WalletSign", Perm::Sign, 4)];
