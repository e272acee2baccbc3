// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {LibOrders} from "./LibOrders.sol";
import {App, AppRegistry, Dataset, DatasetRegistry, Workerpool, WorkerpoolRegistry, RegistryEntry} from "./Registries.sol";

/// Deal, task and category structures as iExec PoCo v5 (IexecLibCore_v5).
library LibCore {
    enum TaskStatusEnum {
        UNSET,
        ACTIVE,
        REVEALING,
        COMPLETED,
        FAILED
    }

    struct Category {
        string name;
        string description;
        uint256 workClockTimeRef;
    }

    /// PoCo's escrow account (IexecLibCore_v5.Account).
    struct Account {
        uint256 stake;
        uint256 locked;
    }

    struct Resource {
        address pointer;
        address owner;
        uint256 price;
    }

    struct Deal {
        Resource app;
        Resource dataset;
        Resource workerpool;
        uint256 trust;
        uint256 category;
        bytes32 tag;
        address requester;
        address beneficiary;
        address callback;
        string params;
        uint256 startTime;
        uint256 botFirst;
        uint256 botSize;
        uint256 workerStake;
        uint256 schedulerRewardRatio;
        address sponsor;
    }

    struct AppInfo {
        address owner;
        string m_appName;
        string m_appType;
        bytes m_appMultiaddr;
        bytes32 m_appChecksum;
        bytes m_appMREnclave;
    }

    struct DatasetInfo {
        address owner;
        string m_datasetName;
        bytes m_datasetMultiaddr;
        bytes32 m_datasetChecksum;
    }

    struct WorkerpoolInfo {
        address owner;
        string m_workerpoolDescription;
        uint256 m_workerStakeRatioPolicy;
        uint256 m_schedulerRewardRatioPolicy;
    }

    struct Task {
        TaskStatusEnum status;
        bytes32 dealid;
        uint256 idx;
        uint256 timeref;
        uint256 contributionDeadline;
        uint256 revealDeadline;
        uint256 finalDeadline;
        bytes32 consensusValue;
        uint256 revealCounter;
        uint256 winnerCounter;
        address[] contributors;
        bytes32 resultDigest;
        bytes results;
        uint256 resultsTimestamp;
        bytes resultsCallback;
    }
}

// Order kinds used in errors: 0 app order, 1 dataset order, 2 workerpool order, 3 request order.
// Restricted kinds: 0 app, 1 dataset, 2 workerpool, 3 requester.

/// An order carries a price other than 0: payments are not supported yet.
error PriceNotZero(uint8 orderKind, uint256 price);
/// The asset named by an order is not in its registry.
error AssetNotRegistered(uint8 orderKind, address asset);
/// The request names an app other than the app order's.
error RequestAppMismatch(address requested, address offered);
/// The request names a dataset other than the dataset order's (address(0) = no dataset).
error RequestDatasetMismatch(address requested, address offered);
/// The request names a workerpool other than the workerpool order's.
error RequestWorkerpoolMismatch(address requested, address offered);
/// The request and the workerpool order are for different categories.
error CategoryMismatch(uint256 requested, uint256 offered);
/// The category does not exist.
error UnknownCategory(uint256 category);
/// The request asks for more trust than the workerpool offers.
error TrustTooHigh(uint256 requested, uint256 offered);
/// The tags of app, dataset and request need bits the workerpool order does not offer.
error TagNotSupported(bytes32 required, bytes32 offered);
/// A TEE deal requires the TEE bit (bit 0) on the app order.
error TeeNotAllowedByApp(bytes32 requiredTag, bytes32 appTag);
/// An order restricts a counterpart to `allowed`; the match uses `actual`.
error RestrictionViolated(uint8 orderKind, uint8 restrictedKind, address allowed, address actual);
/// An order is neither signed by `signer` nor published on chain.
error InvalidOrderSignature(uint8 orderKind, bytes32 orderHash, address signer);
/// An order's volume is fully consumed (or the order was cancelled).
error OrderConsumed(uint8 orderKind, bytes32 orderHash, uint256 volume);
/// Only the owner of an order's asset (the requester for a request order) may do this.
error NotOrderOwner(uint8 orderKind, address owner, address caller);
/// No deal with this id.
error DealNotFound(bytes32 dealid);
/// Only the deal's workerpool owner may initialize its tasks.
error NotWorkerpoolOwner(bytes32 dealid, address owner, address caller);
/// The task index is outside the deal's [botFirst, botFirst + botSize).
error TaskIndexOutOfRange(bytes32 dealid, uint256 idx, uint256 botFirst, uint256 botSize);
/// The task is not in the status this call requires.
error TaskWrongStatus(bytes32 taskid, uint8 status);
/// The contribution deadline has passed.
error ContributionDeadlineReached(bytes32 taskid, uint256 deadline);
/// The final deadline has not passed yet.
error FinalDeadlineNotReached(bytes32 taskid, uint256 deadline);
/// contributeAndFinalize works only for deals with trust 0 or 1 (no consensus).
error ConsensusRequired(bytes32 taskid, uint256 trust);
/// A TEE task must be contributed with an enclave challenge.
error EnclaveChallengeRequired(bytes32 taskid);
/// The workerpool owner did not authorize this worker and enclave for this task.
error InvalidAuthorization(bytes32 taskid, address worker, address enclaveChallenge, address scheduler);
/// The enclave signature does not match the enclave challenge over this result.
error InvalidEnclaveSignature(bytes32 taskid, address enclaveChallenge);
/// With a callback, keccak256(resultsCallback) must equal the result digest.
error ResultsCallbackMismatch(bytes32 taskid);
/// initializeArray / initializeAndClaimArray take as many task indexes as deal ids.
error ArrayLengthMismatch(uint256 dealids, uint256 indexes);

/**
 * The marketplace and task contract, shaped like iExec PoCo v5 (IexecPoco1/2, IexecOrderManagement,
 * IexecAccessors) without payments: every price must be 0.
 */
contract Hub is Ownable, EIP712 {
    using LibOrders for LibOrders.AppOrder;
    using LibOrders for LibOrders.DatasetOrder;
    using LibOrders for LibOrders.WorkerpoolOrder;
    using LibOrders for LibOrders.RequestOrder;

    uint256 public constant contribution_deadline_ratio = 7;
    uint256 public constant reveal_deadline_ratio = 2;
    uint256 public constant final_deadline_ratio = 10;

    AppRegistry public immutable appregistry;
    DatasetRegistry public immutable datasetregistry;
    WorkerpoolRegistry public immutable workerpoolregistry;

    LibCore.Category[] private m_categories;
    mapping(bytes32 => uint256) private m_consumed;
    mapping(bytes32 => address) private m_presigned;
    mapping(bytes32 => LibCore.Deal) private m_deals;
    mapping(bytes32 => LibCore.Task) private m_tasks;

    event CreateCategory(uint256 catid, string name, string description, uint256 workClockTimeRef);
    event BroadcastAppOrder(LibOrders.AppOrder apporder);
    event BroadcastDatasetOrder(LibOrders.DatasetOrder datasetorder);
    event BroadcastWorkerpoolOrder(LibOrders.WorkerpoolOrder workerpoolorder);
    event BroadcastRequestOrder(LibOrders.RequestOrder requestorder);
    event SignedAppOrder(bytes32 appHash);
    event SignedDatasetOrder(bytes32 datasetHash);
    event SignedWorkerpoolOrder(bytes32 workerpoolHash);
    event SignedRequestOrder(bytes32 requestHash);
    event ClosedAppOrder(bytes32 appHash);
    event ClosedDatasetOrder(bytes32 datasetHash);
    event ClosedWorkerpoolOrder(bytes32 workerpoolHash);
    event ClosedRequestOrder(bytes32 requestHash);
    event OrdersMatched(
        bytes32 dealid, bytes32 appHash, bytes32 datasetHash, bytes32 workerpoolHash, bytes32 requestHash, uint256 volume
    );
    event SchedulerNotice(address indexed workerpool, bytes32 dealid);
    event TaskInitialize(bytes32 indexed taskid, address indexed workerpool);
    event TaskContribute(bytes32 indexed taskid, address indexed worker, bytes32 hash);
    event TaskConsensus(bytes32 indexed taskid, bytes32 consensus);
    event TaskReveal(bytes32 indexed taskid, address indexed worker, bytes32 digest);
    event TaskFinalize(bytes32 indexed taskid, bytes results);
    event TaskClaimed(bytes32 indexed taskid);

    constructor(AppRegistry _apps, DatasetRegistry _datasets, WorkerpoolRegistry _workerpools)
        Ownable(msg.sender)
        EIP712("iExecODB", "5.0.0")
    {
        appregistry = _apps;
        datasetregistry = _datasets;
        workerpoolregistry = _workerpools;
        // PoCo's default categories (work clock time reference in seconds).
        _createCategory("XS", '{"description":"XS category"}', 300);
        _createCategory("S", '{"description":"S category"}', 1200);
        _createCategory("M", '{"description":"M category"}', 3600);
        _createCategory("L", '{"description":"L category"}', 10800);
        _createCategory("XL", '{"description":"XL category"}', 36000);
    }

    // ---------------------------------------------------------------- categories

    function createCategory(string calldata name, string calldata description, uint256 workClockTimeRef)
        external
        onlyOwner
        returns (uint256)
    {
        return _createCategory(name, description, workClockTimeRef);
    }

    function _createCategory(string memory name, string memory description, uint256 workClockTimeRef)
        private
        returns (uint256 catid)
    {
        m_categories.push(LibCore.Category(name, description, workClockTimeRef));
        catid = m_categories.length - 1;
        emit CreateCategory(catid, name, description, workClockTimeRef);
    }

    function countCategory() external view returns (uint256) {
        return m_categories.length;
    }

    function viewCategory(uint256 _catid) external view returns (LibCore.Category memory) {
        if (_catid >= m_categories.length) revert UnknownCategory(_catid);
        return m_categories[_catid];
    }

    // ---------------------------------------------------------------- accessors

    /// The EIP-712 domain of orders, as PoCo's `domain()` (an IexecLibOrders_v5.EIP712Domain struct).
    function domain() external view returns (LibOrders.EIP712Domain memory) {
        return LibOrders.EIP712Domain("iExecODB", "5.0.0", block.chainid, address(this));
    }

    function viewApp(address app) external view returns (LibCore.AppInfo memory) {
        App a = App(app);
        return LibCore.AppInfo(
            a.owner(), a.m_appName(), a.m_appType(), a.m_appMultiaddr(), a.m_appChecksum(), a.m_appMREnclave()
        );
    }

    function viewDataset(address dataset) external view returns (LibCore.DatasetInfo memory) {
        Dataset d = Dataset(dataset);
        return LibCore.DatasetInfo(d.owner(), d.m_datasetName(), d.m_datasetMultiaddr(), d.m_datasetChecksum());
    }

    function viewWorkerpool(address workerpool) external view returns (LibCore.WorkerpoolInfo memory) {
        Workerpool w = Workerpool(workerpool);
        return LibCore.WorkerpoolInfo(
            w.owner(), w.m_workerpoolDescription(), w.m_workerStakeRatioPolicy(), w.m_schedulerRewardRatioPolicy()
        );
    }

    function verifySignature(address _identity, bytes32 _hash, bytes calldata _signature) external view returns (bool) {
        return SignatureChecker.isValidSignatureNow(_identity, _hash, _signature);
    }

    function verifyPresignature(address _identity, bytes32 _hash) external view returns (bool) {
        return _identity != address(0) && m_presigned[_hash] == _identity;
    }

    function eip712domain_separator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function viewConsumed(bytes32 _id) external view returns (uint256 consumed) {
        return m_consumed[_id];
    }

    function viewPresigned(bytes32 _id) external view returns (address signer) {
        return m_presigned[_id];
    }

    /// PoCo's escrow account view, read by iExec tooling before matching (the workerpool owner's
    /// stake, the requester's balance). sealwork has no payments: every price is 0, so no account
    /// ever holds a stake or has anything locked.
    function viewAccount(address) external pure returns (LibCore.Account memory) {
        return LibCore.Account(0, 0);
    }

    function viewDeal(bytes32 _id) external view returns (LibCore.Deal memory) {
        return m_deals[_id];
    }

    function viewTask(bytes32 _id) external view returns (LibCore.Task memory) {
        return m_tasks[_id];
    }

    function hashAppOrder(LibOrders.AppOrder calldata o) external view returns (bytes32) {
        return _hashTypedDataV4(o.hash());
    }

    function hashDatasetOrder(LibOrders.DatasetOrder calldata o) external view returns (bytes32) {
        return _hashTypedDataV4(o.hash());
    }

    function hashWorkerpoolOrder(LibOrders.WorkerpoolOrder calldata o) external view returns (bytes32) {
        return _hashTypedDataV4(o.hash());
    }

    function hashRequestOrder(LibOrders.RequestOrder calldata o) external view returns (bytes32) {
        return _hashTypedDataV4(o.hash());
    }

    /// True when `_identity` signed `_hash` (EOA or ERC-1271) or presigned it on chain.
    function verifyPresignatureOrSignature(address _identity, bytes32 _hash, bytes calldata _signature)
        public
        view
        returns (bool)
    {
        return (_identity != address(0) && m_presigned[_hash] == _identity)
            || SignatureChecker.isValidSignatureNow(_identity, _hash, _signature);
    }

    // ---------------------------------------------------------------- order management

    function _assetOwner(address asset) private view returns (address) {
        return RegistryEntry(asset).owner();
    }

    function _appOwner(address app) private view returns (address) {
        if (!appregistry.isRegistered(app)) revert AssetNotRegistered(0, app);
        return _assetOwner(app);
    }

    function _datasetOwner(address dataset) private view returns (address) {
        if (!datasetregistry.isRegistered(dataset)) revert AssetNotRegistered(1, dataset);
        return _assetOwner(dataset);
    }

    function _workerpoolOwner(address workerpool) private view returns (address) {
        if (!workerpoolregistry.isRegistered(workerpool)) revert AssetNotRegistered(2, workerpool);
        return _assetOwner(workerpool);
    }

    /// Owner-only presign (SIGN) or cancel (CLOSE), as PoCo's manage*Order.
    function _manage(uint8 kind, bytes32 h, address owner_, uint256 volume, LibOrders.OrderOperationEnum op) private {
        if (msg.sender != owner_) revert NotOrderOwner(kind, owner_, msg.sender);
        if (op == LibOrders.OrderOperationEnum.SIGN) {
            m_presigned[h] = owner_;
        } else {
            m_consumed[h] = volume;
        }
    }

    function manageAppOrder(LibOrders.AppOrderOperation calldata _op) external {
        bytes32 h = _hashTypedDataV4(_op.order.hash());
        _manage(0, h, _appOwner(_op.order.app), _op.order.volume, _op.operation);
        if (_op.operation == LibOrders.OrderOperationEnum.SIGN) emit SignedAppOrder(h);
        else emit ClosedAppOrder(h);
    }

    function manageDatasetOrder(LibOrders.DatasetOrderOperation calldata _op) external {
        bytes32 h = _hashTypedDataV4(_op.order.hash());
        _manage(1, h, _datasetOwner(_op.order.dataset), _op.order.volume, _op.operation);
        if (_op.operation == LibOrders.OrderOperationEnum.SIGN) emit SignedDatasetOrder(h);
        else emit ClosedDatasetOrder(h);
    }

    function manageWorkerpoolOrder(LibOrders.WorkerpoolOrderOperation calldata _op) external {
        bytes32 h = _hashTypedDataV4(_op.order.hash());
        _manage(2, h, _workerpoolOwner(_op.order.workerpool), _op.order.volume, _op.operation);
        if (_op.operation == LibOrders.OrderOperationEnum.SIGN) emit SignedWorkerpoolOrder(h);
        else emit ClosedWorkerpoolOrder(h);
    }

    function manageRequestOrder(LibOrders.RequestOrderOperation calldata _op) external {
        bytes32 h = _hashTypedDataV4(_op.order.hash());
        _manage(3, h, _op.order.requester, _op.order.volume, _op.operation);
        if (_op.operation == LibOrders.OrderOperationEnum.SIGN) emit SignedRequestOrder(h);
        else emit ClosedRequestOrder(h);
    }

    /// Publish: the owner (or anyone holding the owner's signature) puts the whole order on chain.
    /// The order becomes presigned and the event carries every field, so the market can be read from logs.
    function _broadcast(uint8 kind, bytes32 h, address owner_, bytes calldata sign) private {
        if (msg.sender != owner_ && !SignatureChecker.isValidSignatureNow(owner_, h, sign)) {
            revert InvalidOrderSignature(kind, h, owner_);
        }
        m_presigned[h] = owner_;
    }

    function broadcastAppOrder(LibOrders.AppOrder calldata _order) external {
        bytes32 h = _hashTypedDataV4(_order.hash());
        _broadcast(0, h, _appOwner(_order.app), _order.sign);
        emit SignedAppOrder(h);
        emit BroadcastAppOrder(_order);
    }

    function broadcastDatasetOrder(LibOrders.DatasetOrder calldata _order) external {
        bytes32 h = _hashTypedDataV4(_order.hash());
        _broadcast(1, h, _datasetOwner(_order.dataset), _order.sign);
        emit SignedDatasetOrder(h);
        emit BroadcastDatasetOrder(_order);
    }

    function broadcastWorkerpoolOrder(LibOrders.WorkerpoolOrder calldata _order) external {
        bytes32 h = _hashTypedDataV4(_order.hash());
        _broadcast(2, h, _workerpoolOwner(_order.workerpool), _order.sign);
        emit SignedWorkerpoolOrder(h);
        emit BroadcastWorkerpoolOrder(_order);
    }

    function broadcastRequestOrder(LibOrders.RequestOrder calldata _order) external {
        bytes32 h = _hashTypedDataV4(_order.hash());
        _broadcast(3, h, _order.requester, _order.sign);
        emit SignedRequestOrder(h);
        emit BroadcastRequestOrder(_order);
    }

    // ---------------------------------------------------------------- matching

    function _restrict(uint8 orderKind, uint8 restrictedKind, address allowed, address actual) private pure {
        if (allowed != address(0) && allowed != actual) {
            revert RestrictionViolated(orderKind, restrictedKind, allowed, actual);
        }
    }

    struct Match {
        bytes32 appHash;
        bytes32 datasetHash;
        bytes32 workerpoolHash;
        bytes32 requestHash;
        address appOwner;
        address datasetOwner;
        address workerpoolOwner;
        uint256 volume;
    }

    function _checkCompatibility(
        LibOrders.AppOrder calldata _app,
        LibOrders.DatasetOrder calldata _dataset,
        LibOrders.WorkerpoolOrder calldata _workerpool,
        LibOrders.RequestOrder calldata _request
    ) private view {
        if (_app.appprice != 0) revert PriceNotZero(0, _app.appprice);
        if (_dataset.datasetprice != 0) revert PriceNotZero(1, _dataset.datasetprice);
        if (_workerpool.workerpoolprice != 0) revert PriceNotZero(2, _workerpool.workerpoolprice);
        if (_request.app != _app.app) revert RequestAppMismatch(_request.app, _app.app);
        if (_request.dataset != _dataset.dataset) revert RequestDatasetMismatch(_request.dataset, _dataset.dataset);
        if (_request.workerpool != address(0) && _request.workerpool != _workerpool.workerpool) {
            revert RequestWorkerpoolMismatch(_request.workerpool, _workerpool.workerpool);
        }
        if (_request.category != _workerpool.category) revert CategoryMismatch(_request.category, _workerpool.category);
        if (_request.category >= m_categories.length) revert UnknownCategory(_request.category);
        if (_request.trust > _workerpool.trust) revert TrustTooHigh(_request.trust, _workerpool.trust);
        bytes32 tag = _app.tag | _dataset.tag | _request.tag;
        if (tag & ~_workerpool.tag != 0) revert TagNotSupported(tag, _workerpool.tag);
        if ((tag ^ _app.tag) & bytes32(uint256(1)) != 0) revert TeeNotAllowedByApp(tag, _app.tag);
        // Restrictions: zero = anyone, else the exact address.
        _restrict(0, 1, _app.datasetrestrict, _dataset.dataset);
        _restrict(0, 2, _app.workerpoolrestrict, _workerpool.workerpool);
        _restrict(0, 3, _app.requesterrestrict, _request.requester);
        if (_dataset.dataset != address(0)) {
            _restrict(1, 0, _dataset.apprestrict, _app.app);
            _restrict(1, 2, _dataset.workerpoolrestrict, _workerpool.workerpool);
            _restrict(1, 3, _dataset.requesterrestrict, _request.requester);
        }
        _restrict(2, 0, _workerpool.apprestrict, _app.app);
        _restrict(2, 1, _workerpool.datasetrestrict, _dataset.dataset);
        _restrict(2, 3, _workerpool.requesterrestrict, _request.requester);
    }

    function _remaining(uint8 kind, bytes32 h, uint256 volume) private view returns (uint256 left) {
        uint256 used = m_consumed[h];
        if (used >= volume) revert OrderConsumed(kind, h, volume);
        left = volume - used;
    }

    function matchOrders(
        LibOrders.AppOrder calldata _apporder,
        LibOrders.DatasetOrder calldata _datasetorder,
        LibOrders.WorkerpoolOrder calldata _workerpoolorder,
        LibOrders.RequestOrder calldata _requestorder
    ) external returns (bytes32 dealid) {
        _checkCompatibility(_apporder, _datasetorder, _workerpoolorder, _requestorder);
        Match memory m;
        m.appHash = _hashTypedDataV4(_apporder.hash());
        m.workerpoolHash = _hashTypedDataV4(_workerpoolorder.hash());
        m.requestHash = _hashTypedDataV4(_requestorder.hash());
        m.appOwner = _appOwner(_apporder.app);
        m.workerpoolOwner = _workerpoolOwner(_workerpoolorder.workerpool);
        if (!verifyPresignatureOrSignature(m.appOwner, m.appHash, _apporder.sign)) {
            revert InvalidOrderSignature(0, m.appHash, m.appOwner);
        }
        if (!verifyPresignatureOrSignature(m.workerpoolOwner, m.workerpoolHash, _workerpoolorder.sign)) {
            revert InvalidOrderSignature(2, m.workerpoolHash, m.workerpoolOwner);
        }
        if (!verifyPresignatureOrSignature(_requestorder.requester, m.requestHash, _requestorder.sign)) {
            revert InvalidOrderSignature(3, m.requestHash, _requestorder.requester);
        }
        m.volume = _remaining(0, m.appHash, _apporder.volume);
        uint256 v = _remaining(2, m.workerpoolHash, _workerpoolorder.volume);
        if (v < m.volume) m.volume = v;
        v = _remaining(3, m.requestHash, _requestorder.volume);
        if (v < m.volume) m.volume = v;
        if (_datasetorder.dataset != address(0)) {
            m.datasetHash = _hashTypedDataV4(_datasetorder.hash());
            m.datasetOwner = _datasetOwner(_datasetorder.dataset);
            if (!verifyPresignatureOrSignature(m.datasetOwner, m.datasetHash, _datasetorder.sign)) {
                revert InvalidOrderSignature(1, m.datasetHash, m.datasetOwner);
            }
            v = _remaining(1, m.datasetHash, _datasetorder.volume);
            if (v < m.volume) m.volume = v;
        }

        uint256 botFirst = m_consumed[m.requestHash];
        dealid = keccak256(abi.encodePacked(m.requestHash, botFirst));
        LibCore.Deal storage deal = m_deals[dealid];
        deal.app = LibCore.Resource(_apporder.app, m.appOwner, 0);
        deal.dataset = LibCore.Resource(_datasetorder.dataset, m.datasetOwner, 0);
        deal.workerpool = LibCore.Resource(_workerpoolorder.workerpool, m.workerpoolOwner, 0);
        deal.trust = _requestorder.trust == 0 ? 1 : _requestorder.trust;
        deal.category = _requestorder.category;
        deal.tag = _apporder.tag | _datasetorder.tag | _requestorder.tag;
        deal.requester = _requestorder.requester;
        deal.beneficiary = _requestorder.beneficiary;
        deal.callback = _requestorder.callback;
        deal.params = _requestorder.params;
        deal.startTime = block.timestamp;
        deal.botFirst = botFirst;
        deal.botSize = m.volume;
        deal.sponsor = _requestorder.requester;

        m_consumed[m.appHash] += m.volume;
        m_consumed[m.workerpoolHash] += m.volume;
        m_consumed[m.requestHash] += m.volume;
        if (_datasetorder.dataset != address(0)) m_consumed[m.datasetHash] += m.volume;

        emit SchedulerNotice(_workerpoolorder.workerpool, dealid);
        emit OrdersMatched(dealid, m.appHash, m.datasetHash, m.workerpoolHash, m.requestHash, m.volume);
    }

    // ---------------------------------------------------------------- tasks

    /// Starts a task; sealwork lets only the deal's workerpool owner (the scheduler) do it.
    function initialize(bytes32 _dealid, uint256 idx) public returns (bytes32) {
        LibCore.Deal storage deal = m_deals[_dealid];
        if (deal.app.pointer == address(0)) revert DealNotFound(_dealid);
        if (msg.sender != deal.workerpool.owner) revert NotWorkerpoolOwner(_dealid, deal.workerpool.owner, msg.sender);
        return _initialize(deal, _dealid, idx);
    }

    function _initialize(LibCore.Deal storage deal, bytes32 _dealid, uint256 idx) private returns (bytes32 taskid) {
        if (deal.app.pointer == address(0)) revert DealNotFound(_dealid);
        if (idx < deal.botFirst || idx >= deal.botFirst + deal.botSize) {
            revert TaskIndexOutOfRange(_dealid, idx, deal.botFirst, deal.botSize);
        }
        taskid = keccak256(abi.encodePacked(_dealid, idx));
        LibCore.Task storage task = m_tasks[taskid];
        if (task.status != LibCore.TaskStatusEnum.UNSET) revert TaskWrongStatus(taskid, uint8(task.status));
        uint256 timeref = m_categories[deal.category].workClockTimeRef;
        task.status = LibCore.TaskStatusEnum.ACTIVE;
        task.dealid = _dealid;
        task.idx = idx;
        task.timeref = timeref;
        task.contributionDeadline = deal.startTime + timeref * contribution_deadline_ratio;
        task.finalDeadline = deal.startTime + timeref * final_deadline_ratio;
        emit TaskInitialize(taskid, deal.workerpool.pointer);
    }

    function contributeAndFinalize(
        bytes32 _taskid,
        bytes32 _resultDigest,
        bytes calldata _results,
        bytes calldata _resultsCallback,
        address _enclaveChallenge,
        bytes calldata _enclaveSign,
        bytes calldata _authorizationSign
    ) external {
        LibCore.Task storage task = m_tasks[_taskid];
        if (task.status != LibCore.TaskStatusEnum.ACTIVE) revert TaskWrongStatus(_taskid, uint8(task.status));
        if (block.timestamp >= task.contributionDeadline) {
            revert ContributionDeadlineReached(_taskid, task.contributionDeadline);
        }
        LibCore.Deal storage deal = m_deals[task.dealid];
        if (deal.trust > 1) revert ConsensusRequired(_taskid, deal.trust);
        if (deal.callback != address(0) && keccak256(_resultsCallback) != _resultDigest) {
            revert ResultsCallbackMismatch(_taskid);
        }
        if (deal.tag & bytes32(uint256(1)) != 0 && _enclaveChallenge == address(0)) {
            revert EnclaveChallengeRequired(_taskid);
        }
        // iExec formulas: resultHash = keccak(taskid ‖ digest), resultSeal = keccak(worker ‖ taskid ‖ digest).
        bytes32 resultHash = keccak256(abi.encodePacked(_taskid, _resultDigest));
        bytes32 resultSeal = keccak256(abi.encodePacked(msg.sender, _taskid, _resultDigest));
        address scheduler = deal.workerpool.owner;
        bytes32 authorization = MessageHashUtils.toEthSignedMessageHash(
            keccak256(abi.encodePacked(msg.sender, _taskid, _enclaveChallenge))
        );
        if (!SignatureChecker.isValidSignatureNow(scheduler, authorization, _authorizationSign)) {
            revert InvalidAuthorization(_taskid, msg.sender, _enclaveChallenge, scheduler);
        }
        if (_enclaveChallenge != address(0)) {
            bytes32 enclaveMessage =
                MessageHashUtils.toEthSignedMessageHash(keccak256(abi.encodePacked(resultHash, resultSeal)));
            if (!SignatureChecker.isValidSignatureNow(_enclaveChallenge, enclaveMessage, _enclaveSign)) {
                revert InvalidEnclaveSignature(_taskid, _enclaveChallenge);
            }
        }
        task.status = LibCore.TaskStatusEnum.COMPLETED;
        task.consensusValue = resultHash;
        task.revealDeadline = block.timestamp + task.timeref * reveal_deadline_ratio;
        task.revealCounter = 1;
        task.winnerCounter = 1;
        task.contributors.push(msg.sender);
        task.resultDigest = _resultDigest;
        task.results = _results;
        task.resultsTimestamp = block.timestamp;
        task.resultsCallback = _resultsCallback;
        emit TaskContribute(_taskid, msg.sender, resultHash);
        emit TaskConsensus(_taskid, resultHash);
        emit TaskReveal(_taskid, msg.sender, _resultDigest);
        emit TaskFinalize(_taskid, _results);
    }

    function claim(bytes32 _taskid) public {
        LibCore.Task storage task = m_tasks[_taskid];
        if (task.status != LibCore.TaskStatusEnum.ACTIVE && task.status != LibCore.TaskStatusEnum.REVEALING) {
            revert TaskWrongStatus(_taskid, uint8(task.status));
        }
        if (block.timestamp < task.finalDeadline) revert FinalDeadlineNotReached(_taskid, task.finalDeadline);
        task.status = LibCore.TaskStatusEnum.FAILED;
        emit TaskClaimed(_taskid);
    }

    // ---------------------------------------------------------------- array operations (PoCo)

    /// Initializes several tasks (scheduler only, as `initialize`).
    function initializeArray(bytes32[] calldata _dealid, uint256[] calldata _idx) external returns (bool) {
        if (_dealid.length != _idx.length) revert ArrayLengthMismatch(_dealid.length, _idx.length);
        for (uint256 i = 0; i < _dealid.length; ++i) {
            initialize(_dealid[i], _idx[i]);
        }
        return true;
    }

    /// Claims several tasks; all or nothing. Callers bound the array by the block gas limit (the
    /// iExec SDK sends at most gasLimit / 55 000 task ids per transaction).
    function claimArray(bytes32[] calldata _taskid) external returns (bool) {
        for (uint256 i = 0; i < _taskid.length; ++i) {
            claim(_taskid[i]);
        }
        return true;
    }

    /// Initializes then claims tasks that were never started, after the deal's final deadline. As in
    /// PoCo anyone may call it (the requester, typically): `claim` reverts the whole call before the
    /// deadline, so nothing is started that could still run. Callers bound the arrays by the block
    /// gas limit (the iExec SDK sends at most gasLimit / 250 000 tasks per transaction).
    function initializeAndClaimArray(bytes32[] calldata _dealid, uint256[] calldata _idx) external returns (bool) {
        if (_dealid.length != _idx.length) revert ArrayLengthMismatch(_dealid.length, _idx.length);
        for (uint256 i = 0; i < _dealid.length; ++i) {
            claim(_initialize(m_deals[_dealid[i]], _dealid[i], _idx[i]));
        }
        return true;
    }
}
