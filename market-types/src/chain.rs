//! Chain types the market reads and writes (go-state-types, lotus `chain/types`): deal
//! proposals and their CIDs, messages, market-actor parameters and returns, miner info,
//! payment-channel vouchers, block headers and tipsets.

use cid::Cid;
use multihash_codetable::{Code, MultihashDigest};

use crate::address::Address;
use crate::bigint::{BigInt, TokenAmount};
use crate::bytes::{Bytes, PeerId};
use crate::cbor::{self, Decode, DecodeError, Decoder, Encode, Encoder};
use crate::json::{self, JsonError, LotusJson, Value};
use crate::label::DealLabel;
use crate::signature::{SigType, Signature};
use crate::units::{ChainEpoch, DealId, PaddedPieceSize};
use crate::{cbor_tuple, json_struct};

/// The dag-cbor multicodec.
pub const DAG_CBOR: u64 = 0x71;

/// CIDv1, dag-cbor, blake2b-256: how chain objects (messages, deal proposals, blocks) are named.
pub fn chain_cid(cbor_bytes: &[u8]) -> Cid {
    Cid::new_v1(DAG_CBOR, Code::Blake2b256.digest(cbor_bytes))
}

/// CIDv1, dag-cbor, sha2-256: go-ipld-cbor's default, used for the off-chain proposal CID.
pub fn ipld_cbor_cid(cbor_bytes: &[u8]) -> Cid {
    Cid::new_v1(DAG_CBOR, Code::Sha2_256.digest(cbor_bytes))
}

// ---------------------------------------------------------------- deals

cbor_tuple! {
    /// A storage deal proposal (market actor `DealProposal`, a tuple of 11).
    pub struct DealProposal {
        "PieceCID" => pub piece_cid: Cid,
        "PieceSize" => pub piece_size: PaddedPieceSize,
        "VerifiedDeal" => pub verified_deal: bool,
        "Client" => pub client: Address,
        "Provider" => pub provider: Address,
        "Label" => pub label: DealLabel,
        "StartEpoch" => pub start_epoch: ChainEpoch,
        "EndEpoch" => pub end_epoch: ChainEpoch,
        "StoragePricePerEpoch" => pub storage_price_per_epoch: TokenAmount,
        "ProviderCollateral" => pub provider_collateral: TokenAmount,
        "ClientCollateral" => pub client_collateral: TokenAmount,
    }
}

impl DealProposal {
    /// The deal CID the market actor keys pending proposals by (blake2b-256).
    pub fn cid(&self) -> Cid {
        chain_cid(&cbor::to_vec(self))
    }

    /// The bytes the client signs: the canonical encoding of the unsigned proposal.
    pub fn signing_bytes(&self) -> Vec<u8> {
        cbor::to_vec(self)
    }

    pub fn duration(&self) -> ChainEpoch {
        self.end_epoch - self.start_epoch
    }

    /// Price per epoch × duration.
    pub fn total_storage_fee(&self) -> TokenAmount {
        self.storage_price_per_epoch.clone() * self.duration().max(0)
    }

    /// What the client must hold in escrow: storage fee plus client collateral.
    pub fn client_balance_requirement(&self) -> TokenAmount {
        &self.client_collateral + &self.total_storage_fee()
    }

    /// What the provider must hold in escrow: its collateral.
    pub fn provider_balance_requirement(&self) -> TokenAmount {
        self.provider_collateral.clone()
    }
}

cbor_tuple! {
    /// A proposal with the client's signature over [`DealProposal::signing_bytes`].
    pub struct ClientDealProposal {
        "Proposal" => pub proposal: DealProposal,
        "ClientSignature" => pub client_signature: Signature,
    }
}

impl ClientDealProposal {
    /// The off-chain proposal CID (go-fil-markets `ProposalCid`, boost `SignedProposalCid`):
    /// sha2-256 over go-ipld-cbor's re-encoding of the whole signed proposal
    /// ([`crate::ipld::go_ipld_cbor_form`]), as the Go droplet and go-fil-markets compute it:
    /// for any valid proposal, the hash of its wire bytes.
    pub fn proposal_cid(&self) -> Cid {
        let form = crate::ipld::go_ipld_cbor_form(&cbor::to_vec(self))
            .expect("our own encoding of a proposal is well formed, with no tag but 42");
        ipld_cbor_cid(&form)
    }
}

cbor_tuple! {
    /// On-chain state of a published deal (actors v13+: a tuple of 4).
    pub struct DealState {
        "SectorNumber" => pub sector_number: u64,
        "SectorStartEpoch" => pub sector_start_epoch: ChainEpoch,
        "LastUpdatedEpoch" => pub last_updated_epoch: ChainEpoch,
        "SlashEpoch" => pub slash_epoch: ChainEpoch,
    }
}

impl DealState {
    /// The state of a deal published but not yet in a proven sector.
    pub fn unactivated() -> Self {
        DealState {
            sector_number: 0,
            sector_start_epoch: -1,
            last_updated_epoch: -1,
            slash_epoch: -1,
        }
    }

    pub fn is_active(&self) -> bool {
        self.sector_start_epoch > -1
    }

    pub fn is_slashed(&self) -> bool {
        self.slash_epoch > -1
    }
}

cbor_tuple! {
    /// `StateMarketStorageDeal` result: a proposal and its state.
    pub struct MarketDeal {
        "Proposal" => pub proposal: DealProposal,
        "State" => pub state: DealState,
    }
}

cbor_tuple! {
    /// `StateMarketBalance` result.
    pub struct MarketBalance {
        "Escrow" => pub escrow: TokenAmount,
        "Locked" => pub locked: TokenAmount,
    }
}

impl MarketBalance {
    /// Escrow not locked by deals: what a new deal can draw on.
    pub fn available(&self) -> TokenAmount {
        &self.escrow - &self.locked
    }
}

cbor_tuple! {
    /// `StateDealProviderCollateralBounds` result.
    pub struct DealCollateralBounds {
        "Min" => pub min: TokenAmount,
        "Max" => pub max: TokenAmount,
    }
}

// ---------------------------------------------------------------- market actor calls

/// The storage market actor, f05.
pub const MARKET_ACTOR: Address = Address::new_id(5);

/// Market actor method numbers (builtin-actors).
pub mod market_method {
    pub const CONSTRUCTOR: u64 = 1;
    pub const ADD_BALANCE: u64 = 2;
    pub const WITHDRAW_BALANCE: u64 = 3;
    pub const PUBLISH_STORAGE_DEALS: u64 = 4;
    pub const VERIFY_DEALS_FOR_ACTIVATION: u64 = 5;
    pub const BATCH_ACTIVATE_DEALS: u64 = 6;
    pub const ON_MINER_SECTORS_TERMINATE: u64 = 7;
    pub const CRON_TICK: u64 = 9;
    /// FRC-42 exported method number of `SettleDealPaymentsExported`.
    pub const SETTLE_DEAL_PAYMENTS: u64 = 4_278_244_800;
}

/// Miner actor method numbers the market sends or watches.
pub mod miner_method {
    pub const CHANGE_PEER_ID: u64 = 4;
    pub const CHANGE_MULTIADDRS: u64 = 18;
    pub const PRE_COMMIT_SECTOR_BATCH2: u64 = 28;
    pub const PROVE_COMMIT_SECTORS3: u64 = 34;
    pub const TERMINATE_SECTORS: u64 = 9;
}

/// The market actor's ID address, f05.
pub const STORAGE_MARKET_ACTOR: u64 = 5;

cbor_tuple! {
    /// Market `PublishStorageDeals` (method 4) parameters.
    pub struct PublishStorageDealsParams {
        "Deals" => pub deals: Vec<ClientDealProposal>,
    }
}

/// An RLE+ bitfield (go-bitfield), as a CBOR byte string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BitField(pub fvm_ipld_bitfield::BitField);

impl BitField {
    pub fn from_indices(indices: impl IntoIterator<Item = u64>) -> Self {
        let mut bf = fvm_ipld_bitfield::BitField::new();
        for i in indices {
            bf.set(i);
        }
        BitField(bf)
    }

    /// The set bits, refusing fields with more than `max` of them.
    pub fn indices(&self, max: u64) -> Result<Vec<u64>, String> {
        self.0
            .bounded_iter(max)
            .map(Iterator::collect)
            .ok_or_else(|| format!("bitfield has more than {max} set bits"))
    }
}

impl Encode for BitField {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(&self.0.to_bytes());
    }
}

impl Decode for BitField {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let raw = d.bytes("bitfield", cbor::MAX_BYTES_LEN)?;
        fvm_ipld_bitfield::BitField::from_bytes(raw)
            .map(BitField)
            .map_err(|e| DecodeError::Invalid {
                what: "bitfield",
                reason: e.to_string(),
                at,
            })
    }
    fn missing() -> Option<Self> {
        Some(BitField::default())
    }
}

impl LotusJson for BitField {
    /// As lotus prints a bitfield: alternating run lengths, starting with a run of unset bits.
    fn to_json(&self) -> Value {
        let mut runs = Vec::new();
        let mut last = 0u64;
        for r in self.0.ranges() {
            runs.push(Value::from(r.start - last));
            runs.push(Value::from(r.end - r.start));
            last = r.end;
        }
        Value::Array(runs)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let runs = Vec::<u64>::from_json(v)?;
        // Set runs become ranges; empty ones are dropped and touching ones merged, which is
        // what `Ranges` requires (sorted, non-empty, non-adjacent).
        let mut ranges: Vec<std::ops::Range<u64>> = Vec::new();
        let mut pos = 0u64;
        for (i, run) in runs.into_iter().enumerate() {
            let end = pos
                .checked_add(run)
                .ok_or_else(|| JsonError::new("bitfield runs add up past 2^64"))?;
            if i % 2 == 1 && run > 0 {
                match ranges.last_mut() {
                    Some(prev) if prev.end == pos => prev.end = end,
                    _ => ranges.push(pos..end),
                }
            }
            pos = end;
        }
        Ok(BitField(fvm_ipld_bitfield::BitField::from_ranges(
            fvm_ipld_bitfield::iter::Ranges::new(ranges),
        )))
    }
    fn json_missing() -> Option<Self> {
        Some(BitField::default())
    }
}

cbor_tuple! {
    /// Market `PublishStorageDeals` return: IDs of the valid deals, in input order, and which
    /// inputs were valid.
    pub struct PublishStorageDealsReturn {
        "IDs" => pub ids: Vec<DealId>,
        "ValidDeals" => pub valid_deals: BitField,
    }
}

impl PublishStorageDealsReturn {
    /// Deal ID of each input proposal (`None` for the ones the actor dropped).
    pub fn deal_ids_by_input(&self, inputs: usize) -> Result<Vec<Option<DealId>>, String> {
        let valid = self.valid_deals.indices(inputs as u64)?;
        if valid.len() != self.ids.len() {
            return Err(format!(
                "publish return has {} deal IDs but {} valid deals",
                self.ids.len(),
                valid.len()
            ));
        }
        let mut out = vec![None; inputs];
        for (id, index) in self.ids.iter().zip(valid) {
            let slot = out
                .get_mut(index as usize)
                .ok_or_else(|| format!("valid deal index {index} is past the {inputs} proposals sent"))?;
            *slot = Some(*id);
        }
        Ok(out)
    }
}

cbor_tuple! {
    /// Market `WithdrawBalance` (method 3) parameters.
    pub struct WithdrawBalanceParams {
        "ProviderOrClientAddress" => pub provider_or_client_address: Address,
        "Amount" => pub amount: TokenAmount,
    }
}

cbor_tuple! {
    /// Market `SettleDealPayments` parameters: a bitfield of deal IDs.
    pub struct SettleDealPaymentsParams {
        "Deals" => pub deals: BitField,
    }
}

cbor_tuple! {
    /// Miner `ChangePeerID` (method 4) parameters.
    pub struct ChangePeerIdParams {
        "NewID" => pub new_id: PeerId,
    }
}

cbor_tuple! {
    /// Miner `ChangeMultiaddrs` (method 18) parameters: binary multiaddrs.
    pub struct ChangeMultiaddrsParams {
        "NewMultiaddrs" => pub new_multiaddrs: Vec<Bytes>,
    }
}

// ---------------------------------------------------------------- messages

cbor_tuple! {
    custom_json;
    /// An unsigned message (lotus `types.Message`, a tuple of 10).
    pub struct Message {
        "Version" => pub version: u64,
        "To" => pub to: Address,
        "From" => pub from: Address,
        "Nonce" => pub nonce: u64,
        "Value" => pub value: TokenAmount,
        "GasLimit" => pub gas_limit: i64,
        "GasFeeCap" => pub gas_fee_cap: TokenAmount,
        "GasPremium" => pub gas_premium: TokenAmount,
        "Method" => pub method: u64,
        "Params" => pub params: Bytes,
    }
}

impl Message {
    /// A message to send: nonce and gas left for the sender to fill (estimate, then nonce).
    pub fn to_send(from: Address, to: Address, method: u64, params: Vec<u8>, value: TokenAmount) -> Message {
        Message {
            version: 0,
            to,
            from,
            nonce: 0,
            value,
            gas_limit: 0,
            gas_fee_cap: TokenAmount::default(),
            gas_premium: TokenAmount::default(),
            method,
            params: Bytes(params),
        }
    }

    /// Market `AddBalance`: move `amount` from `from` into the market escrow of `escrow`
    /// (an account or a miner).
    pub fn add_balance(from: Address, escrow: Address, amount: TokenAmount) -> Message {
        Message::to_send(
            from,
            MARKET_ACTOR,
            market_method::ADD_BALANCE,
            cbor::to_vec(&escrow),
            amount,
        )
    }

    /// Market `WithdrawBalance`: `wallet` (the account itself, or a miner's owner or worker)
    /// takes up to `amount` of `escrow`'s unlocked funds out.
    pub fn withdraw_balance(wallet: Address, escrow: Address, amount: TokenAmount) -> Message {
        let params = WithdrawBalanceParams {
            provider_or_client_address: escrow,
            amount,
        };
        Message::to_send(
            wallet,
            MARKET_ACTOR,
            market_method::WITHDRAW_BALANCE,
            cbor::to_vec(&params),
            TokenAmount::default(),
        )
    }

    /// Market `SettleDealPaymentsExported` for `deals`.
    pub fn settle_deal_payments(from: Address, deals: impl IntoIterator<Item = u64>) -> Message {
        let params = SettleDealPaymentsParams {
            deals: BitField::from_indices(deals),
        };
        Message::to_send(
            from,
            MARKET_ACTOR,
            market_method::SETTLE_DEAL_PAYMENTS,
            cbor::to_vec(&params),
            TokenAmount::default(),
        )
    }

    /// The message CID (blake2b-256 over the tuple). Signers sign these CID bytes.
    pub fn cid(&self) -> Cid {
        chain_cid(&cbor::to_vec(self))
    }
}

/// Message JSON adds the output-only `CID` field; on input it is ignored.
impl LotusJson for Message {
    fn to_json(&self) -> Value {
        let mut m = self.json_fields();
        m.insert("CID".into(), self.cid().to_json());
        Value::Object(m)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let mut m = json::expect_object(v, "Message")?;
        Self::from_json_fields(&mut m)
    }
}

cbor_tuple! {
    custom_json;
    /// A message with its sender's signature.
    pub struct SignedMessage {
        "Message" => pub message: Message,
        "Signature" => pub signature: Signature,
    }
}

impl SignedMessage {
    /// BLS-signed messages are named by the unsigned message's CID (their signatures are
    /// aggregated in the block); all others by the CID of the signed tuple.
    pub fn cid(&self) -> Cid {
        match self.signature.sig_type {
            SigType::Bls => self.message.cid(),
            _ => chain_cid(&cbor::to_vec(self)),
        }
    }
}

impl LotusJson for SignedMessage {
    fn to_json(&self) -> Value {
        let mut m = self.json_fields();
        m.insert("CID".into(), self.cid().to_json());
        Value::Object(m)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let mut m = json::expect_object(v, "SignedMessage")?;
        Self::from_json_fields(&mut m)
    }
}

cbor_tuple! {
    /// A message's execution result.
    pub struct MessageReceipt {
        "ExitCode" => pub exit_code: i64,
        "Return" => pub return_data: Bytes,
        "GasUsed" => pub gas_used: i64,
        "EventsRoot" => pub events_root: Option<Cid>,
    }
}

json_struct! {
    /// `StateSearchMsg` / `StateWaitMsg` result.
    pub struct MsgLookup {
        "Message" => pub message: Cid,
        "Receipt" => pub receipt: MessageReceipt,
        "ReturnDec" => pub return_dec: Value,
        "TipSet" => pub tipset: TipSetKey,
        "Height" => pub height: ChainEpoch,
    }
}

json_struct! {
    /// `MpoolPushMessage` / `GasEstimateMessageGas` send options.
    pub struct MessageSendSpec {
        "MaxFee" => pub max_fee: TokenAmount,
        "MsgUuid" => pub msg_uuid: String,
        "MaximizeFeeCap" => pub maximize_fee_cap: bool,
    }
}

// ---------------------------------------------------------------- payment channels

cbor_tuple! {
    /// Extra validation a voucher asks the channel to run.
    pub struct ModVerifyParams {
        "Actor" => pub actor: Address,
        "Method" => pub method: u64,
        "Data" => pub data: Bytes,
    }
}

cbor_tuple! {
    /// A lane merged into a voucher's lane.
    pub struct Merge {
        "Lane" => pub lane: u64,
        "Nonce" => pub nonce: u64,
    }
}

cbor_tuple! {
    /// A payment-channel voucher (paych `SignedVoucher`, a tuple of 11).
    pub struct SignedVoucher {
        "ChannelAddr" => pub channel_addr: Address,
        "TimeLockMin" => pub time_lock_min: ChainEpoch,
        "TimeLockMax" => pub time_lock_max: ChainEpoch,
        "SecretHash" => pub secret_hash: Bytes,
        "Extra" => pub extra: Option<ModVerifyParams>,
        "Lane" => pub lane: u64,
        "Nonce" => pub nonce: u64,
        "Amount" => pub amount: TokenAmount,
        "MinSettleHeight" => pub min_settle_height: ChainEpoch,
        "Merges" => pub merges: Vec<Merge>,
        "Signature" => pub signature: Option<Signature>,
    }
}

impl SignedVoucher {
    /// The bytes the channel's payer signs: the voucher with `Signature` set to null.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        cbor::to_vec(&unsigned)
    }
}

// ---------------------------------------------------------------- miners and actors

json_struct! {
    /// A miner's pending beneficiary change.
    pub struct PendingBeneficiaryChange {
        "NewBeneficiary" => pub new_beneficiary: Address,
        "NewQuota" => pub new_quota: TokenAmount,
        "NewExpiration" => pub new_expiration: ChainEpoch,
        "ApprovedByBeneficiary" => pub approved_by_beneficiary: bool,
        "ApprovedByNominee" => pub approved_by_nominee: bool,
    }
}

json_struct! {
    /// A miner's beneficiary quota.
    pub struct BeneficiaryTerm {
        "Quota" => pub quota: TokenAmount,
        "UsedQuota" => pub used_quota: TokenAmount,
        "Expiration" => pub expiration: ChainEpoch,
    }
}

json_struct! {
    /// `StateMinerInfo` result.
    pub struct MinerInfo {
        "Owner" => pub owner: Address,
        "Worker" => pub worker: Address,
        "NewWorker" => pub new_worker: Option<Address>,
        "ControlAddresses" => pub control_addresses: Vec<Address>,
        "WorkerChangeEpoch" => pub worker_change_epoch: ChainEpoch,
        "PeerId" => pub peer_id: Option<PeerId>,
        "Multiaddrs" => pub multiaddrs: Vec<Bytes>,
        "WindowPoStProofType" => pub window_post_proof_type: i64,
        "SectorSize" => pub sector_size: u64,
        "WindowPoStPartitionSectors" => pub window_post_partition_sectors: u64,
        "ConsensusFaultElapsed" => pub consensus_fault_elapsed: ChainEpoch,
        "PendingOwnerAddress" => pub pending_owner_address: Option<Address>,
        "Beneficiary" => pub beneficiary: Address,
        "BeneficiaryTerm" => pub beneficiary_term: BeneficiaryTerm,
        "PendingBeneficiaryTerm" => pub pending_beneficiary_term: Option<PendingBeneficiaryChange>,
    }
}

json_struct! {
    /// Raw and quality-adjusted power.
    pub struct Claim {
        "RawBytePower" => pub raw_byte_power: BigInt,
        "QualityAdjPower" => pub quality_adj_power: BigInt,
    }
}

json_struct! {
    /// `StateMinerPower` result.
    pub struct MinerPower {
        "MinerPower" => pub miner_power: Claim,
        "TotalPower" => pub total_power: Claim,
        "HasMinPower" => pub has_min_power: bool,
    }
}

json_struct! {
    /// `StateGetActor` result.
    pub struct Actor {
        "Code" => pub code: Cid,
        "Head" => pub head: Cid,
        "Nonce" => pub nonce: u64,
        "Balance" => pub balance: TokenAmount,
        "DelegatedAddress" => pub delegated_address: Option<Address>,
    }
}

cbor_tuple! {
    /// A sector pre-commitment (miner `SectorPreCommitInfo`).
    pub struct SectorPreCommitInfo {
        "SealProof" => pub seal_proof: i64,
        "SectorNumber" => pub sector_number: u64,
        "SealedCID" => pub sealed_cid: Cid,
        "SealRandEpoch" => pub seal_rand_epoch: ChainEpoch,
        "DealIDs" => pub deal_ids: Vec<DealId>,
        "Expiration" => pub expiration: ChainEpoch,
        "UnsealedCid" => pub unsealed_cid: Option<Cid>,
    }
}

cbor_tuple! {
    /// `StateSectorPreCommitInfo` result.
    pub struct SectorPreCommitOnChainInfo {
        "Info" => pub info: SectorPreCommitInfo,
        "PreCommitDeposit" => pub pre_commit_deposit: TokenAmount,
        "PreCommitEpoch" => pub pre_commit_epoch: ChainEpoch,
    }
}

// ---------------------------------------------------------------- blocks and tipsets

cbor_tuple! {
    pub struct Ticket {
        "VRFProof" => pub vrf_proof: Bytes,
    }
}

cbor_tuple! {
    pub struct ElectionProof {
        "WinCount" => pub win_count: i64,
        "VRFProof" => pub vrf_proof: Bytes,
    }
}

cbor_tuple! {
    pub struct BeaconEntry {
        "Round" => pub round: u64,
        "Data" => pub data: Bytes,
    }
}

cbor_tuple! {
    pub struct PoStProof {
        "PoStProof" => pub post_proof: i64,
        "ProofBytes" => pub proof_bytes: Bytes,
    }
}

cbor_tuple! {
    /// A block header (lotus `types.BlockHeader`, a tuple of 16).
    pub struct BlockHeader {
        "Miner" => pub miner: Address,
        "Ticket" => pub ticket: Option<Ticket>,
        "ElectionProof" => pub election_proof: Option<ElectionProof>,
        "BeaconEntries" => pub beacon_entries: Vec<BeaconEntry>,
        "WinPoStProof" => pub win_post_proof: Vec<PoStProof>,
        "Parents" => pub parents: Vec<Cid>,
        "ParentWeight" => pub parent_weight: BigInt,
        "Height" => pub height: ChainEpoch,
        "ParentStateRoot" => pub parent_state_root: Cid,
        "ParentMessageReceipts" => pub parent_message_receipts: Cid,
        "Messages" => pub messages: Cid,
        "BLSAggregate" => pub bls_aggregate: Option<Signature>,
        "Timestamp" => pub timestamp: u64,
        "BlockSig" => pub block_sig: Option<Signature>,
        "ForkSignaling" => pub fork_signaling: u64,
        "ParentBaseFee" => pub parent_base_fee: TokenAmount,
    }
}

impl BlockHeader {
    pub fn cid(&self) -> Cid {
        chain_cid(&cbor::to_vec(self))
    }
}

/// A tipset key: the CIDs of its blocks. JSON: an array of CIDs (`[]` for the empty key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TipSetKey(pub Vec<Cid>);

impl TipSetKey {
    /// The empty key, meaning "the current head" in `State*` calls.
    pub fn empty() -> Self {
        TipSetKey(Vec::new())
    }
}

impl LotusJson for TipSetKey {
    fn to_json(&self) -> Value {
        self.0.to_json()
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        Vec::<Cid>::from_json(v).map(TipSetKey)
    }
    fn json_missing() -> Option<Self> {
        Some(TipSetKey::empty())
    }
}

/// CBOR form of a key: one byte string of the concatenated binary CIDs.
impl Encode for TipSetKey {
    fn encode(&self, e: &mut Encoder) {
        let raw: Vec<u8> = self.0.iter().flat_map(|c| c.to_bytes()).collect();
        e.bytes(&raw);
    }
}

impl Decode for TipSetKey {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let raw = d.bytes("tipset key", cbor::MAX_BYTES_LEN)?;
        let mut cursor = std::io::Cursor::new(raw);
        let mut cids = Vec::new();
        while (cursor.position() as usize) < raw.len() {
            cids.push(Cid::read_bytes(&mut cursor).map_err(|e| DecodeError::Invalid {
                what: "tipset key",
                reason: e.to_string(),
                at,
            })?);
        }
        Ok(TipSetKey(cids))
    }
    fn missing() -> Option<Self> {
        Some(TipSetKey::empty())
    }
}

/// A tipset: blocks at one height sharing parents. Its key is derived from the blocks, as Go
/// clients re-derive it (they ignore the JSON `Cids`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipSet {
    blocks: Vec<BlockHeader>,
}

impl TipSet {
    /// Build a tipset, checking what lotus `NewTipSet` checks.
    pub fn new(blocks: Vec<BlockHeader>) -> Result<Self, String> {
        let first = blocks.first().ok_or("a tipset needs at least one block")?;
        for b in &blocks[1..] {
            if b.height != first.height {
                return Err(format!(
                    "blocks at heights {} and {} in one tipset",
                    first.height, b.height
                ));
            }
            if b.parents != first.parents {
                return Err("blocks with different parents in one tipset".into());
            }
            if b.parent_weight != first.parent_weight {
                return Err("blocks with different parent weights in one tipset".into());
            }
        }
        Ok(TipSet { blocks })
    }

    pub fn blocks(&self) -> &[BlockHeader] {
        &self.blocks
    }

    pub fn height(&self) -> ChainEpoch {
        self.blocks[0].height
    }

    pub fn key(&self) -> TipSetKey {
        TipSetKey(self.blocks.iter().map(BlockHeader::cid).collect())
    }

    pub fn parents(&self) -> TipSetKey {
        TipSetKey(self.blocks[0].parents.clone())
    }

    pub fn min_timestamp(&self) -> u64 {
        self.blocks.iter().map(|b| b.timestamp).min().unwrap_or(0)
    }
}

impl LotusJson for TipSet {
    fn to_json(&self) -> Value {
        let mut m = json::Map::new();
        m.insert("Cids".into(), self.key().to_json());
        m.insert("Blocks".into(), self.blocks.to_json());
        m.insert("Height".into(), Value::from(self.height()));
        Value::Object(m)
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let mut m = json::expect_object(v, "TipSet")?;
        let blocks: Vec<BlockHeader> = json::take_field(&mut m, "TipSet", "Blocks")?;
        TipSet::new(blocks).map_err(|e| JsonError(format!("TipSet: {e}")))
    }
}

json_struct! {
    /// One `ChainNotify` change: `current`, `apply` or `revert` with its tipset.
    pub struct HeadChange {
        "Type" => pub change_type: String,
        "Val" => pub val: TipSet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_return_maps_inputs_to_deal_ids() {
        let ret = PublishStorageDealsReturn {
            ids: vec![100, 101],
            valid_deals: BitField::from_indices([0, 2]),
        };
        assert_eq!(ret.deal_ids_by_input(3), Ok(vec![Some(100), None, Some(101)]));
        let enc = cbor::to_vec(&ret);
        assert_eq!(cbor::from_slice::<PublishStorageDealsReturn>(&enc), Ok(ret.clone()));
        // More IDs than valid bits, or a bit past the inputs: refused with a reason.
        let bad = PublishStorageDealsReturn {
            ids: vec![1, 2, 3],
            valid_deals: BitField::from_indices([0, 1]),
        };
        assert!(bad.deal_ids_by_input(2).is_err());
        assert!(ret.deal_ids_by_input(2).is_err());
    }

    #[test]
    fn bitfield_json_is_run_lengths() {
        let bf = BitField::from_indices([0, 2, 3]);
        assert_eq!(json::to_string(&bf), "[0,1,1,2]");
        assert_eq!(json::from_str::<BitField>("[0,1,1,2]"), Ok(bf.clone()));
        // Empty and touching runs read the same as their merged form.
        assert_eq!(json::from_str::<BitField>("[0,1,0,0,1,2]"), Ok(bf));
        // A run of 2^40 set bits is held as one range, not expanded.
        let big = json::from_str::<BitField>("[5,1099511627776]").expect("large run");
        assert_eq!(json::to_string(&big), "[5,1099511627776]");
        assert!(json::from_str::<BitField>("[18446744073709551615,1]").is_err());
    }

    #[test]
    fn tipset_rejects_mismatched_blocks() {
        assert!(TipSet::new(vec![]).is_err());
    }
}
